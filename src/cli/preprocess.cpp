// MNIST-style preprocessing and classification of one picture (see preprocess.hpp).
#include "src/cli/preprocess.hpp"

#include <algorithm>
#include <cmath>

#include "data_loader/mnist.hpp"

namespace mnist {
namespace {

// Ink below this fraction of the strongest ink is paper texture or noise and is dropped.
constexpr float kNoise = 0.1f;
// A picture whose ink is fainter than this (on 0..1) has none.
constexpr float kMinContrast = 0.15f;

// The median of the picture's outer frame (2% of each side, at least one pixel): the background.
float border_median(const GreyImage& img) {
    const int bx = std::max(1, img.width / 50), by = std::max(1, img.height / 50);
    std::vector<float> border;
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x)
            if (x < bx || y < by || x >= img.width - bx || y >= img.height - by) border.push_back(img.at(x, y));
    std::nth_element(border.begin(), border.begin() + border.size() / 2, border.end());
    return border[border.size() / 2];
}

// Box-filter resampling of src's rectangle [x0, x0+w) x [y0, y0+h) to nw x nh: each output pixel is
// the mean of the input area it covers (partial pixels weighted by their overlap).
std::vector<float> resample(const GreyImage& src, int x0, int y0, int w, int h, int nw, int nh) {
    std::vector<float> out(size_t(nw) * size_t(nh), 0.0f);
    const double sx = double(w) / nw, sy = double(h) / nh;
    for (int oy = 0; oy < nh; ++oy) {
        const double ya = oy * sy, yb = ya + sy;
        for (int ox = 0; ox < nw; ++ox) {
            const double xa = ox * sx, xb = xa + sx;
            double sum = 0;
            for (int y = int(ya); y < h && y < yb; ++y) {
                const double wy = std::min<double>(y + 1, yb) - std::max<double>(y, ya);
                for (int x = int(xa); x < w && x < xb; ++x) {
                    const double wx = std::min<double>(x + 1, xb) - std::max<double>(x, xa);
                    sum += wx * wy * src.at(x0 + x, y0 + y);
                }
            }
            out[size_t(oy) * size_t(nw) + size_t(ox)] = float(sum / (sx * sy));
        }
    }
    return out;
}

// Ink in [0, 1] (1 strongest, background 0): inverted if the border is light, the background level
// subtracted, stretched so the strongest ink is 1, faint noise dropped.
GreyImage ink_of(const GreyImage& image, const std::string& what, bool& inverted) {
    GreyImage ink = image;
    float bg = border_median(image);
    inverted = bg > 0.5f;
    if (inverted) {
        for (float& v : ink.v) v = 1.0f - v;
        bg = 1.0f - bg;
    }
    float peak = 0;
    for (float& v : ink.v) peak = std::max(peak, v = std::max(0.0f, v - bg));
    if (peak < kMinContrast)
        throw ImageError(what + ": no ink: every pixel is within " + std::to_string(int(std::lround(peak * 100))) +
                         "% of the background (" + (inverted ? "light" : "dark") + "); expected a digit at least " +
                         std::to_string(int(kMinContrast * 100)) + "% darker or lighter than it");
    for (float& v : ink.v) v = v / peak < kNoise ? 0.0f : v / peak;
    return ink;
}

}  // namespace

Preprocessed mnist_preprocess(const GreyImage& image, const std::string& what) {
    Preprocessed out;
    const GreyImage ink = ink_of(image, what, out.inverted);
    int x0 = ink.width, y0 = ink.height, x1 = -1, y1 = -1;
    for (int y = 0; y < ink.height; ++y)
        for (int x = 0; x < ink.width; ++x)
            if (ink.at(x, y) > 0) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    const int w = x1 - x0 + 1, h = y1 - y0 + 1;
    const double scale = double(kMnistDigitBox) / std::max(w, h);
    const int nw = std::max(1, int(std::lround(w * scale))), nh = std::max(1, int(std::lround(h * scale)));
    const std::vector<float> box = resample(ink, x0, y0, w, h, nw, nh);
    double mass = 0, mx = 0, my = 0;
    for (int y = 0; y < nh; ++y)
        for (int x = 0; x < nw; ++x) {
            const double m = box[size_t(y) * size_t(nw) + size_t(x)];
            mass += m, mx += m * (x + 0.5), my += m * (y + 0.5);
        }
    // Where the box's corner goes so that its centre of mass lands on the centre of pixel (14, 14),
    // where MNIST's digits have theirs (measured on the test set: mean 14.4 in these coordinates).
    const double centre = kMnistSide / 2 + 0.5;
    const int ox = int(std::lround(centre - mx / mass)), oy = int(std::lround(centre - my / mass));
    out.pixels.assign(size_t(kMnistSide) * kMnistSide, 0);
    for (int y = 0; y < nh; ++y)
        for (int x = 0; x < nw; ++x) {
            const int tx = x + ox, ty = y + oy;
            if (tx < 0 || ty < 0 || tx >= kMnistSide || ty >= kMnistSide) continue;
            const float v = std::clamp(box[size_t(y) * size_t(nw) + size_t(x)], 0.0f, 1.0f);
            out.pixels[size_t(ty) * kMnistSide + size_t(tx)] = uint8_t(std::lround(v * 255.0f));
        }
    return out;
}

Prediction classify(const Mlp& net, const std::vector<uint8_t>& pixels, const std::string& what) {
    if (net.sizes.empty() || size_t(net.sizes.front()) != pixels.size())
        throw ImageError(what + ": the network takes " + std::to_string(net.sizes.empty() ? 0 : net.sizes.front()) +
                         " pixels but the image has " + std::to_string(pixels.size()));
    Dataset one;
    one.rows = 1;
    one.cols = uint32_t(pixels.size());
    one.pixels = pixels;
    one.labels = {0};
    Workspace ws = make_workspace(net, 1, WorkspaceUse::inference);
    gather_batch(one, nullptr, 0, 1, ws.input.data());
    forward_logits(net, ws, 1);
    Prediction p;
    const int classes = int(ws.logits.cols());
    float top = ws.logits(0, 0);  // a plain loop: Eigen's vectorised maxCoeff on one row trips GCC 12's
    for (int c = 1; c < classes; ++c) top = std::max(top, ws.logits(0, c));  // -Wmaybe-uninitialized
    double sum = 0;
    for (int c = 0; c < classes; ++c) sum += std::exp(double(ws.logits(0, c)) - top);
    for (int c = 0; c < classes; ++c) p.probabilities.push_back(std::exp(double(ws.logits(0, c)) - top) / sum);
    p.label = int(std::max_element(p.probabilities.begin(), p.probabilities.end()) - p.probabilities.begin());
    return p;
}

}  // namespace mnist
