// Test pictures for ./predict (tests/e2e/predict_accuracy.sh): the first COUNT MNIST test digits
// saved twice, as 28x28 grey PNGs (OUT/mnist28/) and drawn dark on light at 140x140 in RGB
// (OUT/drawn140/: scaled 5x with bilinear interpolation, dark blue ink on off-white paper, shifted
// off centre by up to 9 pixels). File names are <index>_<label>.png.
//   usage: make_digit_images DATA_DIR OUT_DIR COUNT
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "src/cli/image_file.hpp"
#include "src/cli/png_grid.hpp"

using namespace mnist;

namespace {

// Bilinear sample of a 28x28 image at (x, y) in its pixel coordinates (centres at i + 0.5).
float sample(const uint8_t* px, int side, double x, double y) {
    x -= 0.5, y -= 0.5;
    const int x0 = int(std::floor(x)), y0 = int(std::floor(y));
    const double fx = x - x0, fy = y - y0;
    const auto at = [&](int cx, int cy) {
        return (cx < 0 || cy < 0 || cx >= side || cy >= side) ? 0.0 : px[cy * side + cx] / 255.0;
    };
    return float((1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1)));
}

RgbImage drawn(const uint8_t* px, int side, int shift_x, int shift_y) {
    constexpr int kZoom = 5;
    RgbImage img;
    img.width = img.height = side * kZoom;
    img.rgb.resize(size_t(img.width) * img.height * 3);
    const float paper[3] = {250, 247, 238}, ink[3] = {25, 35, 110};
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x) {
            const float v = sample(px, side, (x - shift_x + 0.5) / kZoom, (y - shift_y + 0.5) / kZoom);
            for (int c = 0; c < 3; ++c) img.at(x, y)[c] = uint8_t(std::lround(paper[c] + (ink[c] - paper[c]) * v));
        }
    return img;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: make_digit_images DATA_DIR OUT_DIR COUNT\n");
        return 1;
    }
    try {
        const Dataset test = load_mnist_test(argv[1]);
        const std::string out = argv[2];
        const size_t count = std::min(test.size(), size_t(std::stoul(argv[3])));
        std::filesystem::create_directories(out + "/mnist28");
        std::filesystem::create_directories(out + "/drawn140");
        const int side = int(test.rows);
        for (size_t i = 0; i < count; ++i) {
            const uint8_t* px = test.pixels.data() + i * test.image_size();
            const std::string name = std::to_string(i) + "_" + std::to_string(test.labels[i]) + ".png";
            write_grey_png(out + "/mnist28/" + name, side, side, px);
            write_png(out + "/drawn140/" + name, drawn(px, side, int(i % 7) * 3 - 9, int(i % 5) * 4 - 8));
        }
        std::printf("make_digit_images: %zu digits in %s/mnist28 and %s/drawn140\n", count, out.c_str(), out.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_digit_images: %s\n", e.what());
        return 1;
    }
}
