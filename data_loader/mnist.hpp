// The MNIST data set as TensorFlow 1.x's reader splits it: the first `validation_size` training
// images are the validation set, the rest the training set, t10k the test set. Pixels stay bytes
// in memory; a batch is scaled to [0,1] floats only when it is built.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mnist {

struct Dataset {
    uint32_t rows = 0, cols = 0;
    std::vector<uint8_t> pixels;  // size() * rows*cols bytes
    std::vector<uint8_t> labels;  // values 0..9
    size_t size() const { return labels.size(); }
    size_t image_size() const { return size_t(rows) * cols; }
};

// Paths of the four files in `dir`; each is the raw name or, when that is absent, name + ".gz".
struct MnistFiles {
    std::string train_images, train_labels, test_images, test_labels;
};

struct Mnist {
    Dataset train, validation, test;
    MnistFiles files;         // where load_mnist read them ("" otherwise)
    std::string fingerprint;  // data_fingerprint(*this), computed by load_mnist
};

// A fingerprint of the decoded arrays (not of the files: raw and .gz give the same), which every
// checkpoint records so that a resume on other data is noticed whatever the path: the training
// file's images and labels (validation then train, i.e. file order) and the test set's, as
// "train 60000x28x28 crc32 <images>/<labels>, test 10000x28x28 crc32 <images>/<labels>".
// Equal data gives equal text on every machine and process (MPI ranks can compare them).
std::string data_fingerprint(const Mnist& m);
// throws IdxError when dir does not exist or a file is missing, saying to run `make data`
// or `scripts/fetch_mnist.sh`.
MnistFiles find_mnist_files(const std::string& dir);

// Loads train + test, checks image count == label count and equal image sizes, splits validation.
// throws IdxError (file errors, count mismatch, validation_size >= number of training images).
Mnist load_mnist(const std::string& dir, size_t validation_size);
// Only the test set (for evaluation programs, which need nothing else).
Dataset load_mnist_test(const std::string& dir);

// TensorFlow's scaling of a pixel byte to [0, 1]: multiplication by float32(1/255).
constexpr float kPixelScale = float(1.0 / 255.0);

// Writes n images, chosen by `indices` (or the first n from `first` when indices is null), into out
// as floats scaled by kPixelScale, row after row (n * image_size floats).
void gather_batch(const Dataset& d, const uint32_t* indices, size_t first, size_t n, float* out);

}  // namespace mnist
