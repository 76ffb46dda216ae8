// Tests for data_loader/mnist: small fake MNIST directories (a few 3x2 images, raw or gzip) in a fresh
// temporary directory, the TensorFlow-style validation split checked by content, the cross-file
// checks between images, labels and sets, and the float scaling of gather_batch.
#include "data_loader/mnist.hpp"

#include "data_loader/idx.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/fixture.hpp"

using Catch::Matchers::Contains;
using mnist::IdxError;
using testutil::idx_images;
using testutil::idx_labels;
using testutil::put_be32;
using testutil::TempDir;
using testutil::write_bytes;
using testutil::write_gz;

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// Writes bytes raw or gzip-compressed.
void write_file(const std::string& path, const Bytes& b, bool gz) {
    if (gz)
        write_gz(path, b);
    else
        write_bytes(path, b);
}

// Image i has pixel j = (base + i + 16*j) % 256, so its first pixel identifies it; its label is (base + i) % 10.
uint8_t pixel(uint32_t base, uint32_t i, uint32_t j) { return uint8_t((base + i + 16 * j) % 256); }
uint8_t label(uint32_t base, uint32_t i) { return uint8_t((base + i) % 10); }

void write_images(const std::string& path, uint32_t count, uint32_t rows, uint32_t cols, uint32_t base, bool gz) {
    Bytes px;
    for (uint32_t i = 0; i < count; ++i)
        for (uint32_t j = 0; j < rows * cols; ++j) px.push_back(pixel(base, i, j));
    write_file(path, idx_images(count, rows, cols, px), gz);
}

void write_labels(const std::string& path, uint32_t count, uint32_t base, bool gz) {
    Bytes lb;
    for (uint32_t i = 0; i < count; ++i) lb.push_back(label(base, i));
    write_file(path, idx_labels(lb), gz);
}

constexpr uint32_t kTrainBase = 0, kTestBase = 100;

struct FakeMnist {
    uint32_t train = 12, train_labels = 12, test = 5, test_labels = 5;
    uint32_t rows = 3, cols = 2, test_rows = 3, test_cols = 2;
    bool gz = false;

    void write(const TempDir& t) const {
        const std::string sfx = gz ? ".gz" : "";
        write_images(t / ("train-images-idx3-ubyte" + sfx), train, rows, cols, kTrainBase, gz);
        write_labels(t / ("train-labels-idx1-ubyte" + sfx), train_labels, kTrainBase, gz);
        write_images(t / ("t10k-images-idx3-ubyte" + sfx), test, test_rows, test_cols, kTestBase, gz);
        write_labels(t / ("t10k-labels-idx1-ubyte" + sfx), test_labels, kTestBase, gz);
    }
};

// Checks that d holds images base+first .. base+first+d.size()-1 of the fake files, in order.
void check_content(const mnist::Dataset& d, uint32_t base, uint32_t first) {
    REQUIRE(d.pixels.size() == d.size() * d.image_size());
    for (size_t i = 0; i < d.size(); ++i) {
        INFO("image " << i);
        CHECK(d.labels[i] == label(base, first + uint32_t(i)));
        for (size_t j = 0; j < d.image_size(); ++j)
            CHECK(d.pixels[i * d.image_size() + j] == pixel(base, first + uint32_t(i), uint32_t(j)));
    }
}

mnist::Dataset tiny_set(const Bytes& pixels, uint32_t rows, uint32_t cols) {
    mnist::Dataset d;
    d.rows = rows;
    d.cols = cols;
    d.pixels = pixels;
    d.labels.assign(pixels.size() / (size_t(rows) * cols), 0);
    return d;
}

}  // namespace

TEST_CASE("mnist: finds the raw files and falls back to .gz files when the raw ones are absent", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    write_images(t / "t10k-images-idx3-ubyte.gz", 5, 3, 2, kTestBase, true);  // raw one wins
    fs::remove(t / "train-labels-idx1-ubyte");
    write_labels(t / "train-labels-idx1-ubyte.gz", 12, kTrainBase, true);
    const mnist::MnistFiles files = mnist::find_mnist_files(t.str());
    CHECK(files.train_images == t / "train-images-idx3-ubyte");
    CHECK(files.train_labels == t / "train-labels-idx1-ubyte.gz");
    CHECK(files.test_images == t / "t10k-images-idx3-ubyte");
    CHECK(files.test_labels == t / "t10k-labels-idx1-ubyte");
}

TEST_CASE("mnist: a missing data directory is reported with the `make data` hint", "[mnist]") {
    TempDir t;
    const std::string missing = t / "nowhere";
    REQUIRE_THROWS_AS(mnist::find_mnist_files(missing), IdxError);
    REQUIRE_THROWS_WITH(mnist::find_mnist_files(missing),
                        Contains("data directory '" + missing + "' does not exist") && Contains("make data") &&
                            Contains("scripts/fetch_mnist.sh"));
    REQUIRE_THROWS_WITH(mnist::load_mnist(missing, 0), Contains("make data"));
    REQUIRE_THROWS_WITH(mnist::load_mnist_test(missing), Contains("make data"));
}

TEST_CASE("mnist: a missing file is reported with both names tried and the hint", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    fs::remove(t / "t10k-labels-idx1-ubyte");
    const std::string raw = t / "t10k-labels-idx1-ubyte";
    REQUIRE_THROWS_WITH(mnist::find_mnist_files(t.str()),
                        Contains("'t10k-labels-idx1-ubyte'") && Contains("'" + raw + "'") &&
                            Contains("'" + raw + ".gz'") && Contains("make data"));
    REQUIRE_THROWS_WITH(mnist::load_mnist_test(t.str()), Contains(raw + ".gz") && Contains("make data"));
}

TEST_CASE("mnist: loads train, validation and test sets with their sizes and dimensions", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    const mnist::Mnist m = mnist::load_mnist(t.str(), 4);
    CHECK(m.validation.size() == 4);
    CHECK(m.train.size() == 8);
    CHECK(m.test.size() == 5);
    for (const mnist::Dataset* d : {&m.train, &m.validation, &m.test}) {
        CHECK(d->rows == 3);
        CHECK(d->cols == 2);
        CHECK(d->image_size() == 6);
        CHECK(d->pixels.size() == d->size() * 6);
    }
    check_content(m.test, kTestBase, 0);
}

TEST_CASE("mnist: the validation split takes the first validation_size training images", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    const mnist::Mnist m = mnist::load_mnist(t.str(), 5);
    CHECK(m.validation.pixels[0] == pixel(kTrainBase, 0, 0));
    CHECK(m.train.pixels[0] == pixel(kTrainBase, 5, 0));
    check_content(m.validation, kTrainBase, 0);
    check_content(m.train, kTrainBase, 5);
}

TEST_CASE("mnist: a validation_size of zero leaves every training image for training", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    const mnist::Mnist m = mnist::load_mnist(t.str(), 0);
    CHECK(m.validation.size() == 0);
    CHECK(m.validation.pixels.empty());
    CHECK(m.validation.rows == 3);
    check_content(m.train, kTrainBase, 0);
}

TEST_CASE("mnist: rejects a validation_size not below the number of training images", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    REQUIRE_THROWS_AS(mnist::load_mnist(t.str(), 12), IdxError);
    REQUIRE_THROWS_WITH(mnist::load_mnist(t.str(), 12),
                        Contains("validation_size is 12") && Contains("only 12 training images"));
    REQUIRE_THROWS_WITH(mnist::load_mnist(t.str(), 5000), Contains("validation_size is 5000"));
    CHECK(mnist::load_mnist(t.str(), 11).train.size() == 1);
}

TEST_CASE("mnist: rejects a label file whose count differs from the image file", "[mnist]") {
    TempDir t;
    FakeMnist f;
    SECTION("training set") {
        f.train_labels = 11;
        f.write(t);
        REQUIRE_THROWS_WITH(mnist::load_mnist(t.str(), 0),
                            Contains("training set") && Contains(t / "train-images-idx3-ubyte") &&
                                Contains("holds 12 images") && Contains(t / "train-labels-idx1-ubyte") &&
                                Contains("holds 11 labels"));
    }
    SECTION("test set") {
        f.test = 6;
        f.write(t);
        REQUIRE_THROWS_WITH(mnist::load_mnist(t.str(), 0),
                            Contains("test set") && Contains(t / "t10k-images-idx3-ubyte") &&
                                Contains("holds 6 images") && Contains(t / "t10k-labels-idx1-ubyte") &&
                                Contains("holds 5 labels"));
        REQUIRE_THROWS_WITH(mnist::load_mnist_test(t.str()), Contains("holds 6 images"));
    }
}

TEST_CASE("mnist: rejects test images whose size differs from the training images", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.test_rows = 2;
    f.test_cols = 3;
    f.write(t);
    REQUIRE_THROWS_WITH(mnist::load_mnist(t.str(), 0),
                        Contains("test images in '" + (t / "t10k-images-idx3-ubyte") + "' are 2x3") &&
                            Contains("training images in '" + (t / "train-images-idx3-ubyte") + "' are 3x2"));
}

TEST_CASE("mnist: passes on errors of the individual files", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    Bytes bad;
    put_be32(bad, 2049);
    put_be32(bad, 12);
    bad.resize(8 + 12, 10);  // every label is 10
    write_bytes(t / "train-labels-idx1-ubyte", bad);
    REQUIRE_THROWS_WITH(mnist::load_mnist(t.str(), 0),
                        Contains(t / "train-labels-idx1-ubyte") && Contains("label 0 is 10"));
}

TEST_CASE("mnist: load_mnist_test needs only the test files", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    fs::remove(t / "train-images-idx3-ubyte");
    fs::remove(t / "train-labels-idx1-ubyte");
    const mnist::Dataset d = mnist::load_mnist_test(t.str());
    CHECK(d.size() == 5);
    check_content(d, kTestBase, 0);
    REQUIRE_THROWS_WITH(mnist::load_mnist(t.str(), 0), Contains("train-images-idx3-ubyte"));
}

TEST_CASE("mnist: loads gzip-compressed files like raw ones", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.gz = true;
    f.write(t);
    const mnist::Mnist m = mnist::load_mnist(t.str(), 3);
    check_content(m.validation, kTrainBase, 0);
    check_content(m.train, kTrainBase, 3);
    check_content(m.test, kTestBase, 0);
}

TEST_CASE("mnist: gather_batch scales bytes by float32(1/255) as TensorFlow's reader does", "[mnist]") {
    const mnist::Dataset d = tiny_set({0, 255, 51, 1, 128, 254}, 2, 3);
    std::vector<float> out(6, -1.0f);
    mnist::gather_batch(d, nullptr, 0, 1, out.data());
    CHECK(out[0] == 0.0f);
    CHECK(out[1] == 1.0f);
    CHECK(out[2] == Approx(0.2f).epsilon(1e-7));
    CHECK(out[2] == 51.0f * float(1.0 / 255.0));  // numpy: float32(51) * float32(1/255), not 51/255
    CHECK(out[3] == float(1.0 / 255.0));
    CHECK(out[4] == 128.0f * float(1.0 / 255.0));
    CHECK(out[5] == 254.0f * float(1.0 / 255.0));
}

TEST_CASE("mnist: gather_batch takes the images named by indices or a run starting at first", "[mnist]") {
    // 4 images of 1x2: image i holds {10*i, 10*i + 1}
    const mnist::Dataset d = tiny_set({0, 1, 10, 11, 20, 21, 30, 31}, 1, 2);
    const auto scaled = [](std::vector<int> v) {
        std::vector<float> f;
        for (int x : v) f.push_back(float(x) * float(1.0 / 255.0));
        return f;
    };
    SECTION("by indices, repeats and order kept") {
        const uint32_t idx[] = {3, 0, 3};
        std::vector<float> out(6);
        mnist::gather_batch(d, idx, 99, 3, out.data());  // `first` is ignored when indices are given
        CHECK(out == scaled({30, 31, 0, 1, 30, 31}));
    }
    SECTION("a contiguous run") {
        std::vector<float> out(4);
        mnist::gather_batch(d, nullptr, 2, 2, out.data());
        CHECK(out == scaled({20, 21, 30, 31}));
    }
    SECTION("out of range") {
        std::vector<float> out(6);
        const uint32_t idx[] = {1, 4};
        REQUIRE_THROWS_AS(mnist::gather_batch(d, idx, 0, 2, out.data()), std::out_of_range);
        REQUIRE_THROWS_AS(mnist::gather_batch(d, nullptr, 3, 2, out.data()), std::out_of_range);
        REQUIRE_NOTHROW(mnist::gather_batch(d, nullptr, 4, 0, out.data()));
    }
}
