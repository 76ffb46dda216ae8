// MNIST as TensorFlow 1.x's input_data.read_data_sets hands it out: the four IDX files of a data
// directory (raw or .gz), checked against each other, with the first `validation_size` training
// images split off as the validation set. Pixels stay bytes until gather_batch scales a batch.
#include "data_loader/mnist.hpp"

#include "data_loader/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace mnist {
namespace {

namespace fs = std::filesystem;

const char* const kFetchHint = "run `make data` or `scripts/fetch_mnist.sh` to fetch MNIST";

void check_dir(const std::string& dir) {
    std::error_code ec;
    const fs::file_status st = fs::status(dir, ec);
    if (!fs::exists(st))
        throw IdxError("data directory '" + dir + "' does not exist; " + kFetchHint);
    if (!fs::is_directory(st))
        throw IdxError("data directory '" + dir + "' is not a directory; " + kFetchHint);
}

// dir/name when it exists, else dir/name.gz when that exists.
std::string resolve(const std::string& dir, const std::string& name) {
    const std::string raw = (fs::path(dir) / name).string();
    const std::string gz = raw + ".gz";
    std::error_code ec;
    if (fs::exists(raw, ec)) return raw;
    if (fs::exists(gz, ec)) return gz;
    throw IdxError("MNIST file '" + name + "' is missing from data directory '" + dir + "' (tried '" + raw +
                   "' and '" + gz + "'); " + kFetchHint);
}

// One split's images and labels, checked to agree with each other.
Dataset load_pair(const std::string& images_path, const std::string& labels_path, const char* split) {
    IdxImages im = read_idx_images(images_path);
    std::vector<uint8_t> labels = read_idx_labels(labels_path, 10);
    if (labels.size() != im.count)
        throw IdxError(std::string(split) + " set: image file '" + images_path + "' holds " +
                       std::to_string(im.count) + " images but label file '" + labels_path + "' holds " +
                       std::to_string(labels.size()) + " labels; expected the same count");
    Dataset d;
    d.rows = im.rows;
    d.cols = im.cols;
    d.pixels = std::move(im.pixels);
    d.labels = std::move(labels);
    return d;
}

uint32_t crc_more(uint32_t crc, const std::vector<uint8_t>& bytes) {
    uLong c = crc;
    for (size_t at = 0; at < bytes.size();) {  // zlib takes uInt lengths
        const uInt n = uInt(std::min<size_t>(bytes.size() - at, size_t(1) << 30));
        c = crc32(c, bytes.data() + at, n);
        at += n;
    }
    return uint32_t(c);
}

std::string split_text(const char* name, size_t count, uint32_t rows, uint32_t cols, uint32_t images, uint32_t labels) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s %zux%ux%u crc32 %08x/%08x", name, count, rows, cols, images, labels);
    return buf;
}

}  // namespace

MnistFiles find_mnist_files(const std::string& dir) {
    check_dir(dir);
    MnistFiles f;
    f.train_images = resolve(dir, "train-images-idx3-ubyte");
    f.train_labels = resolve(dir, "train-labels-idx1-ubyte");
    f.test_images = resolve(dir, "t10k-images-idx3-ubyte");
    f.test_labels = resolve(dir, "t10k-labels-idx1-ubyte");
    return f;
}

std::string data_fingerprint(const Mnist& m) {
    const uint32_t zero = uint32_t(crc32(0L, Z_NULL, 0));
    const Dataset& v = m.validation.size() ? m.validation : m.train;  // rows and cols of the training file
    return split_text("train", m.validation.size() + m.train.size(), v.rows, v.cols,
                      crc_more(crc_more(zero, m.validation.pixels), m.train.pixels),
                      crc_more(crc_more(zero, m.validation.labels), m.train.labels)) +
           ", " +
           split_text("test", m.test.size(), m.test.rows, m.test.cols, crc_more(zero, m.test.pixels),
                      crc_more(zero, m.test.labels));
}

Mnist load_mnist(const std::string& dir, size_t validation_size) {
    const MnistFiles files = find_mnist_files(dir);
    Mnist m;
    m.files = files;
    Dataset all = load_pair(files.train_images, files.train_labels, "training");
    if (validation_size >= all.size())
        throw IdxError("validation_size is " + std::to_string(validation_size) + ", but '" + files.train_images +
                       "' holds only " + std::to_string(all.size()) +
                       " training images; expected validation_size below that so some remain for training");

    m.test = load_pair(files.test_images, files.test_labels, "test");
    if (m.test.rows != all.rows || m.test.cols != all.cols)
        throw IdxError("test images in '" + files.test_images + "' are " + std::to_string(m.test.rows) + "x" +
                       std::to_string(m.test.cols) + ", but training images in '" + files.train_images + "' are " +
                       std::to_string(all.rows) + "x" + std::to_string(all.cols) + "; expected the same size");

    // As read_data_sets: validation = images [0, validation_size), train = the rest, in file order.
    const auto split_bytes = std::ptrdiff_t(validation_size * all.image_size());
    const auto split_images = std::ptrdiff_t(validation_size);
    m.validation.rows = m.train.rows = all.rows;
    m.validation.cols = m.train.cols = all.cols;
    m.validation.pixels.assign(all.pixels.begin(), all.pixels.begin() + split_bytes);
    m.validation.labels.assign(all.labels.begin(), all.labels.begin() + split_images);
    all.pixels.erase(all.pixels.begin(), all.pixels.begin() + split_bytes);
    all.labels.erase(all.labels.begin(), all.labels.begin() + split_images);
    m.train.pixels = std::move(all.pixels);
    m.train.labels = std::move(all.labels);
    m.fingerprint = data_fingerprint(m);
    return m;
}

Dataset load_mnist_test(const std::string& dir) {
    // Only the test files are required: an evaluation machine need not hold the training set.
    check_dir(dir);
    return load_pair(resolve(dir, "t10k-images-idx3-ubyte"), resolve(dir, "t10k-labels-idx1-ubyte"), "test");
}

void gather_batch(const Dataset& d, const uint32_t* indices, size_t first, size_t n, float* out) {
    const size_t isz = d.image_size();
    if (!indices && (first > d.size() || n > d.size() - first))
        throw std::out_of_range("gather_batch: images [" + std::to_string(first) + ", " + std::to_string(first + n) +
                                ") requested from a set of " + std::to_string(d.size()));
    for (size_t i = 0; indices && i < n; ++i)
        if (indices[i] >= d.size())
            throw std::out_of_range("gather_batch: index " + std::to_string(indices[i]) + " (batch position " +
                                    std::to_string(i) + ") is outside a set of " + std::to_string(d.size()));
    // Images are independent: split between the threads (a batch is too small to matter, an
    // evaluation chunk is not).
#pragma omp parallel for schedule(static) if (n * isz >= (size_t(1) << 16))
    for (long i = 0; i < long(n); ++i) {
        const size_t idx = indices ? indices[i] : first + size_t(i);
        const uint8_t* src = d.pixels.data() + idx * isz;
        float* dst = out + size_t(i) * isz;
        // As TensorFlow's reader: numpy.multiply(float32 images, 1.0 / 255.0), i.e. a float32 product
        // with float32(1/255). (Division would differ by one ulp for 126 of the 256 values.)
        for (size_t j = 0; j < isz; ++j) dst[j] = float(src[j]) * kPixelScale;
    }
}

}  // namespace mnist
