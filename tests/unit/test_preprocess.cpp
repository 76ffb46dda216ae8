// MNIST-style preprocessing: polarity, cropping, fitting to 20x20 with the aspect ratio kept,
// centring by mass, "no ink"; and classify against the evaluation's forward pass.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "src/cli/preprocess.hpp"
#include "src/model/evaluate.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;

namespace {

// A w x h picture of background `bg` with a filled rectangle of `ink` at [x0, x0+rw) x [y0, y0+rh).
GreyImage rect(int w, int h, int x0, int y0, int rw, int rh, float bg, float ink) {
    GreyImage img;
    img.width = w;
    img.height = h;
    img.v.assign(size_t(w) * h, bg);
    for (int y = y0; y < y0 + rh; ++y)
        for (int x = x0; x < x0 + rw; ++x) img.v[size_t(y) * w + x] = ink;
    return img;
}

struct Box {
    int x0 = 99, y0 = 99, x1 = -1, y1 = -1;
    double cx = 0, cy = 0;
};
Box box_of(const std::vector<uint8_t>& px) {
    Box b;
    double mass = 0;
    for (int y = 0; y < kMnistSide; ++y)
        for (int x = 0; x < kMnistSide; ++x)
            if (const int v = px[size_t(y) * kMnistSide + x]) {
                b.x0 = std::min(b.x0, x), b.x1 = std::max(b.x1, x), b.y0 = std::min(b.y0, y), b.y1 = std::max(b.y1, y);
                mass += v, b.cx += v * (x + 0.5), b.cy += v * (y + 0.5);
            }
    b.cx /= mass, b.cy /= mass;
    return b;
}

}  // namespace

TEST_CASE("preprocess: a bar is cropped, fitted to 20 pixels keeping its aspect ratio and centred by mass", "[preprocess]") {
    const Preprocessed p = mnist_preprocess(rect(200, 300, 30, 20, 40, 160, 0.0f, 1.0f), "bar");
    REQUIRE(p.pixels.size() == size_t(kMnistSide * kMnistSide));
    CHECK_FALSE(p.inverted);
    const Box b = box_of(p.pixels);
    CHECK(b.y1 - b.y0 + 1 == 20);  // 160 tall -> 20
    CHECK(b.x1 - b.x0 + 1 == 5);   // 40 wide -> 5
    CHECK(b.cx == Approx(14.5).margin(0.5));
    CHECK(b.cy == Approx(14.5).margin(0.5));
    CHECK(*std::max_element(p.pixels.begin(), p.pixels.end()) == 255);
}

TEST_CASE("preprocess: dark on light gives the same image as light on dark", "[preprocess]") {
    const Preprocessed light = mnist_preprocess(rect(140, 140, 50, 20, 30, 90, 0.05f, 0.9f), "light");
    const Preprocessed dark = mnist_preprocess(rect(140, 140, 50, 20, 30, 90, 0.95f, 0.1f), "dark");
    CHECK_FALSE(light.inverted);
    CHECK(dark.inverted);
    CHECK(light.pixels == dark.pixels);
}

TEST_CASE("preprocess: a picture with no ink, or ink too faint, is refused naming the file", "[preprocess]") {
    CHECK_THROWS_WITH(mnist_preprocess(rect(50, 50, 0, 0, 0, 0, 1.0f, 1.0f), "blank.png"),
                      Catch::Contains("blank.png: no ink"));
    CHECK_THROWS_AS(mnist_preprocess(rect(50, 50, 10, 10, 5, 5, 0.5f, 0.55f), "faint.png"), ImageError);
}

TEST_CASE("preprocess: a 28x28 MNIST-like image keeps its shape and moves at most half a pixel", "[preprocess]") {
    // A 5x20 bar centred on pixel (14, 14) (x) and between two pixels (y): nothing to scale.
    const Preprocessed p = mnist_preprocess(rect(28, 28, 12, 4, 5, 20, 0.0f, 1.0f), "mnist");
    const Box b = box_of(p.pixels);
    CHECK(b.x0 == 12);
    CHECK(std::abs(b.y0 - 4) <= 1);
    CHECK(b.x1 - b.x0 + 1 == 5);
    CHECK(b.y1 - b.y0 + 1 == 20);
    CHECK(std::count(p.pixels.begin(), p.pixels.end(), uint8_t(255)) == 100);
}

TEST_CASE("preprocess: classify gives the class and softmax of the evaluation's forward pass", "[preprocess]") {
    const Mlp net = init_mlp({kMnistSide * kMnistSide, 16, 10}, 5, 0.1f);
    Dataset d;
    d.rows = d.cols = kMnistSide;
    testutil::synthetic_images(1, kMnistSide, 9, d.pixels, d.labels);
    const Prediction p = classify(net, d.pixels, "x");
    REQUIRE(p.probabilities.size() == 10);
    CHECK(std::accumulate(p.probabilities.begin(), p.probabilities.end(), 0.0) == Approx(1.0));
    // The reference: evaluate's confusion matrix row holds the predicted class of the one image.
    EvalWorkspace ws = make_eval_workspace(net);
    const EvalResult r = evaluate(net, d, ws);
    CHECK(r.confusion[d.labels[0]][size_t(p.label)] == 1);
    CHECK_THROWS_WITH(classify(net, std::vector<uint8_t>(10, 0), "small.png"), Catch::Contains("takes 784 pixels"));
}
