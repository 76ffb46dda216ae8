// The grid of labelled images and the PNG writer, checked by decoding the file with libpng.
#include <catch2/catch.hpp>

#include <png.h>

#include "src/cli/png_grid.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;
using testutil::TempDir;

TEST_CASE("png_grid: a written grid decodes with libpng to the same size and pixels", "[png]") {
    TempDir tmp;
    Dataset d;
    d.rows = d.cols = 14;
    testutil::synthetic_images(5, 14, 3, d.pixels, d.labels);
    const RgbImage grid = labelled_grid(d, {0, 2, 4}, {1, 2, 3}, 2);  // at most 2 of the 3
    REQUIRE(grid.width > 2 * 28);
    REQUIRE(grid.height > 28);
    const std::string path = tmp / "grid.png";
    write_png(path, grid);

    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    REQUIRE(png_image_begin_read_from_file(&image, path.c_str()) != 0);
    image.format = PNG_FORMAT_RGB;
    std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
    REQUIRE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr) != 0);
    CHECK(int(image.width) == grid.width);
    CHECK(int(image.height) == grid.height);
    CHECK(pixels == grid.rgb);

    // Somewhere in the grid, image 0 appears pixel for pixel (each a grey 2x2 block), and the labels
    // are drawn in green (true) and red (predicted).
    bool found = false, green = false, red = false;
    for (int y = 0; y < grid.height; ++y)
        for (int x = 0; x < grid.width; ++x) {
            const uint8_t* p = pixels.data() + (size_t(y) * size_t(grid.width) + size_t(x)) * 3;
            green |= p[1] > 200 && p[0] < 100;
            red |= p[0] > 200 && p[1] < 100;
        }
    for (int y0 = 0; y0 + 28 <= grid.height && !found; ++y0)
        for (int x0 = 0; x0 + 28 <= grid.width && !found; ++x0) {
            bool all = true;
            for (int k = 0; k < 14 * 14 && all; ++k) {
                const uint8_t* p = pixels.data() + (size_t(y0 + 2 * (k / 14)) * size_t(grid.width) + size_t(x0 + 2 * (k % 14))) * 3;
                all = p[0] == d.pixels[size_t(k)] && p[1] == p[0] && p[2] == p[0];
            }
            found = all;
        }
    CHECK(found);
    CHECK(green);
    CHECK(red);
}

TEST_CASE("png_grid: an unwritable path is reported with its name", "[png]") {
    RgbImage img;
    img.width = img.height = 1;
    img.rgb = {0, 0, 0};
    CHECK_THROWS_WITH(write_png("/nonexistent-dir/x.png", img), Catch::Contains("/nonexistent-dir/x.png"));
}
