// Tests for data_loader/mnist: small fake MNIST directories (a few 3x2 images, raw or gzip) in a fresh
// temporary directory, the TensorFlow-style validation split checked by content, the cross-file
// checks between images, labels and sets, and the float scaling of gather_batch.
#include "data_loader/mnist.hpp"

#include "data_loader/idx.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using mnist::IdxError;

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
    fs::path path;
    TempDir() {
        std::random_device rd;
        path = fs::temp_directory_path() / ("mnist_test_" + std::to_string(rd()) + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string dir() const { return path.string(); }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

void put_be32(Bytes& b, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

void write_file(const std::string& path, const Bytes& b, bool gz) {
    if (gz) {
        gzFile g = gzopen(path.c_str(), "wb");
        REQUIRE(g != nullptr);
        REQUIRE(gzwrite(g, b.data(), unsigned(b.size())) == int(b.size()));
        REQUIRE(gzclose(g) == Z_OK);
    } else {
        std::ofstream f(path, std::ios::binary);
        f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
        REQUIRE(f.good());
    }
}

// Image i has pixel j = (base + i + 16*j) % 256, so its first pixel identifies it; its label is (base + i) % 10.
uint8_t pixel(uint32_t base, uint32_t i, uint32_t j) { return uint8_t((base + i + 16 * j) % 256); }
uint8_t label(uint32_t base, uint32_t i) { return uint8_t((base + i) % 10); }

void write_images(const std::string& path, uint32_t count, uint32_t rows, uint32_t cols, uint32_t base, bool gz) {
    Bytes b;
    put_be32(b, 2051);
    put_be32(b, count);
    put_be32(b, rows);
    put_be32(b, cols);
    for (uint32_t i = 0; i < count; ++i)
        for (uint32_t j = 0; j < rows * cols; ++j) b.push_back(pixel(base, i, j));
    write_file(path, b, gz);
}

void write_labels(const std::string& path, uint32_t count, uint32_t base, bool gz) {
    Bytes b;
    put_be32(b, 2049);
    put_be32(b, count);
    for (uint32_t i = 0; i < count; ++i) b.push_back(label(base, i));
    write_file(path, b, gz);
}

constexpr uint32_t kTrainBase = 0, kTestBase = 100;

struct FakeMnist {
    uint32_t train = 12, train_labels = 12, test = 5, test_labels = 5;
    uint32_t rows = 3, cols = 2, test_rows = 3, test_cols = 2;
    bool gz = false;

    void write(const TempDir& t) const {
        const std::string sfx = gz ? ".gz" : "";
        write_images(t.file("train-images-idx3-ubyte" + sfx), train, rows, cols, kTrainBase, gz);
        write_labels(t.file("train-labels-idx1-ubyte" + sfx), train_labels, kTrainBase, gz);
        write_images(t.file("t10k-images-idx3-ubyte" + sfx), test, test_rows, test_cols, kTestBase, gz);
        write_labels(t.file("t10k-labels-idx1-ubyte" + sfx), test_labels, kTestBase, gz);
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
    write_images(t.file("t10k-images-idx3-ubyte.gz"), 5, 3, 2, kTestBase, true);  // raw one wins
    fs::remove(t.file("train-labels-idx1-ubyte"));
    write_labels(t.file("train-labels-idx1-ubyte.gz"), 12, kTrainBase, true);
    const mnist::MnistFiles files = mnist::find_mnist_files(t.dir());
    CHECK(files.train_images == t.file("train-images-idx3-ubyte"));
    CHECK(files.train_labels == t.file("train-labels-idx1-ubyte.gz"));
    CHECK(files.test_images == t.file("t10k-images-idx3-ubyte"));
    CHECK(files.test_labels == t.file("t10k-labels-idx1-ubyte"));
}

TEST_CASE("mnist: a missing data directory is reported with the `make data` hint", "[mnist]") {
    TempDir t;
    const std::string missing = t.file("nowhere");
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
    fs::remove(t.file("t10k-labels-idx1-ubyte"));
    const std::string raw = t.file("t10k-labels-idx1-ubyte");
    REQUIRE_THROWS_WITH(mnist::find_mnist_files(t.dir()),
                        Contains("'t10k-labels-idx1-ubyte'") && Contains("'" + raw + "'") &&
                            Contains("'" + raw + ".gz'") && Contains("make data"));
    REQUIRE_THROWS_WITH(mnist::load_mnist_test(t.dir()), Contains(raw + ".gz") && Contains("make data"));
}

TEST_CASE("mnist: loads train, validation and test sets with their sizes and dimensions", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    const mnist::Mnist m = mnist::load_mnist(t.dir(), 4);
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
    const mnist::Mnist m = mnist::load_mnist(t.dir(), 5);
    CHECK(m.validation.pixels[0] == pixel(kTrainBase, 0, 0));
    CHECK(m.train.pixels[0] == pixel(kTrainBase, 5, 0));
    check_content(m.validation, kTrainBase, 0);
    check_content(m.train, kTrainBase, 5);
}

TEST_CASE("mnist: a validation_size of zero leaves every training image for training", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    const mnist::Mnist m = mnist::load_mnist(t.dir(), 0);
    CHECK(m.validation.size() == 0);
    CHECK(m.validation.pixels.empty());
    CHECK(m.validation.rows == 3);
    check_content(m.train, kTrainBase, 0);
}

TEST_CASE("mnist: rejects a validation_size not below the number of training images", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    REQUIRE_THROWS_AS(mnist::load_mnist(t.dir(), 12), IdxError);
    REQUIRE_THROWS_WITH(mnist::load_mnist(t.dir(), 12),
                        Contains("validation_size is 12") && Contains("only 12 training images"));
    REQUIRE_THROWS_WITH(mnist::load_mnist(t.dir(), 5000), Contains("validation_size is 5000"));
    CHECK(mnist::load_mnist(t.dir(), 11).train.size() == 1);
}

TEST_CASE("mnist: rejects a label file whose count differs from the image file", "[mnist]") {
    TempDir t;
    FakeMnist f;
    SECTION("training set") {
        f.train_labels = 11;
        f.write(t);
        REQUIRE_THROWS_WITH(mnist::load_mnist(t.dir(), 0),
                            Contains("training set") && Contains(t.file("train-images-idx3-ubyte")) &&
                                Contains("holds 12 images") && Contains(t.file("train-labels-idx1-ubyte")) &&
                                Contains("holds 11 labels"));
    }
    SECTION("test set") {
        f.test = 6;
        f.write(t);
        REQUIRE_THROWS_WITH(mnist::load_mnist(t.dir(), 0),
                            Contains("test set") && Contains(t.file("t10k-images-idx3-ubyte")) &&
                                Contains("holds 6 images") && Contains(t.file("t10k-labels-idx1-ubyte")) &&
                                Contains("holds 5 labels"));
        REQUIRE_THROWS_WITH(mnist::load_mnist_test(t.dir()), Contains("holds 6 images"));
    }
}

TEST_CASE("mnist: rejects test images whose size differs from the training images", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.test_rows = 2;
    f.test_cols = 3;
    f.write(t);
    REQUIRE_THROWS_WITH(mnist::load_mnist(t.dir(), 0),
                        Contains("test images in '" + t.file("t10k-images-idx3-ubyte") + "' are 2x3") &&
                            Contains("training images in '" + t.file("train-images-idx3-ubyte") + "' are 3x2"));
}

TEST_CASE("mnist: passes on errors of the individual files", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    Bytes bad;
    put_be32(bad, 2049);
    put_be32(bad, 12);
    bad.resize(8 + 12, 10);  // every label is 10
    write_file(t.file("train-labels-idx1-ubyte"), bad, false);
    REQUIRE_THROWS_WITH(mnist::load_mnist(t.dir(), 0),
                        Contains(t.file("train-labels-idx1-ubyte")) && Contains("label 0 is 10"));
}

TEST_CASE("mnist: load_mnist_test needs only the test files", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.write(t);
    fs::remove(t.file("train-images-idx3-ubyte"));
    fs::remove(t.file("train-labels-idx1-ubyte"));
    const mnist::Dataset d = mnist::load_mnist_test(t.dir());
    CHECK(d.size() == 5);
    check_content(d, kTestBase, 0);
    REQUIRE_THROWS_WITH(mnist::load_mnist(t.dir(), 0), Contains("train-images-idx3-ubyte"));
}

TEST_CASE("mnist: loads gzip-compressed files like raw ones", "[mnist]") {
    TempDir t;
    FakeMnist f;
    f.gz = true;
    f.write(t);
    const mnist::Mnist m = mnist::load_mnist(t.dir(), 3);
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
