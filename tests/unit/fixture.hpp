// The shared test fixture: a temporary directory that cleans itself up, tiny IDX files, a small
// learnable MNIST-like data set written to disk (class-dependent stripes plus noise), a small
// configuration, a quiet logger, a captured logger, and TrainingFixture, which bundles the first four.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <zlib.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "src/config.hpp"
#include "src/numerics/rng.hpp"
#include "src/train/trainer.hpp"

namespace testutil {

namespace fs = std::filesystem;

struct TempDir {
    fs::path path;
    TempDir() {
        static std::mt19937_64 gen{std::random_device{}()};
        path = fs::temp_directory_path() / ("mnist_test_" + std::to_string(gen()));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
    std::string str() const { return path.string(); }
};

// n values from N(0, 1), a pure function of (seed, layer): operands for the product tests.
inline std::vector<float> normal_values(size_t n, uint64_t seed, uint32_t layer) {
    std::vector<float> v(n);
    mnist::fill_normal(v.data(), n, 1.0f, seed, layer);
    return v;
}

inline void put_be32(std::vector<uint8_t>& out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// Writes bytes gzip-compressed (one gzip member); throws std::runtime_error naming the file on failure.
inline void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
    gzFile g = gzopen(path.c_str(), "wb");
    if (g == nullptr) throw std::runtime_error("write_gz: cannot open '" + path + "'");
    const bool wrote = gzwrite(g, bytes.data(), unsigned(bytes.size())) == int(bytes.size());
    if (gzclose(g) != Z_OK || !wrote) throw std::runtime_error("write_gz: cannot write '" + path + "'");
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline std::vector<uint8_t> idx_images(uint32_t count, uint32_t rows, uint32_t cols, const std::vector<uint8_t>& pixels) {
    std::vector<uint8_t> out;
    put_be32(out, 2051);
    put_be32(out, count);
    put_be32(out, rows);
    put_be32(out, cols);
    out.insert(out.end(), pixels.begin(), pixels.end());
    return out;
}

inline std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& labels) {
    std::vector<uint8_t> out;
    put_be32(out, 2049);
    put_be32(out, uint32_t(labels.size()));
    out.insert(out.end(), labels.begin(), labels.end());
    return out;
}

// A copy of bytes with the big-endian 32-bit field at offset replaced by v: a header that lies about
// its magic number or count (offset 0 is the magic, 4 the count, 8 and 12 the rows and columns).
inline std::vector<uint8_t> with_be32(std::vector<uint8_t> bytes, size_t offset, uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes.at(offset + size_t(i)) = uint8_t(v >> (24 - 8 * i));
    return bytes;
}

// Images of side x side pixels where class c lights up row c % side and column c (plus noise), so a
// small network learns it within a few epochs.
inline void synthetic_images(uint32_t count, uint32_t side, uint32_t seed, std::vector<uint8_t>& pixels,
                             std::vector<uint8_t>& labels) {
    std::mt19937 gen(seed);
    pixels.assign(size_t(count) * side * side, 0);
    labels.resize(count);
    for (uint32_t i = 0; i < count; ++i) {
        const uint8_t c = uint8_t(gen() % 10);
        labels[i] = c;
        uint8_t* img = pixels.data() + size_t(i) * side * side;
        for (uint32_t p = 0; p < side * side; ++p) img[p] = uint8_t(gen() % 60);
        for (uint32_t k = 0; k < side; ++k) {
            img[(c % side) * side + k] = 200;
            img[k * side + (c * 3) % side] = 230;
        }
    }
}

// Writes the four MNIST files (raw) of a synthetic set into dir.
inline void write_synthetic_mnist(const std::string& dir, uint32_t train = 1100, uint32_t test = 200, uint32_t side = 14) {
    fs::create_directories(dir);
    std::vector<uint8_t> px, lb;
    synthetic_images(train, side, 1, px, lb);
    write_bytes(dir + "/train-images-idx3-ubyte", idx_images(train, side, side, px));
    write_bytes(dir + "/train-labels-idx1-ubyte", idx_labels(lb));
    synthetic_images(test, side, 2, px, lb);
    write_bytes(dir + "/t10k-images-idx3-ubyte", idx_images(test, side, side, px));
    write_bytes(dir + "/t10k-labels-idx1-ubyte", idx_labels(lb));
}

// A small, fast configuration for the synthetic set.
inline mnist::TrainConfig small_config(const std::string& data_dir, const std::string& ckpt_dir) {
    mnist::TrainConfig c;
    c.data_dir = data_dir;
    c.ckpt_dir = ckpt_dir;
    c.hidden = {64, 32};
    c.batch_size = 16;
    c.epochs = 3;
    c.validation_size = 100;
    c.learning_rate = 0.01;
    c.seed = 7;
    c.threads = 2;
    return c;
}

// Keeps the trainer's info lines out of test output for the scope of a test.
struct Quiet {
    Quiet() { spdlog::set_level(spdlog::level::warn); }
    ~Quiet() { spdlog::set_level(spdlog::level::info); }
};

// Sends the default logger's lines (every level) into `text` for the scope of a test, so that a
// test can check a warning; the previous default logger is restored afterwards.
struct CapturedLog {
    std::ostringstream text;
    std::shared_ptr<spdlog::logger> before = spdlog::default_logger();
    CapturedLog() {
        auto logger = std::make_shared<spdlog::logger>("captured", std::make_shared<spdlog::sinks::ostream_sink_mt>(text));
        logger->set_level(spdlog::level::trace);
        spdlog::set_default_logger(logger);
    }
    ~CapturedLog() { spdlog::set_default_logger(before); }
    CapturedLog(const CapturedLog&) = delete;
    CapturedLog& operator=(const CapturedLog&) = delete;
    std::string str() const { return text.str(); }
};

// Loads c's data and trains as ./train would; a non-zero `stop` is a stop signal already received,
// so the run takes one step, saves and returns.
inline mnist::TrainOutcome run(const mnist::TrainConfig& c, int stop = 0) {
    const mnist::Mnist data = mnist::load_mnist(c.data_dir, size_t(c.validation_size));
    std::atomic<int> signal{stop};
    return mnist::train(c, data, signal);
}

// What most training tests start from: a quiet logger, a temporary directory, the synthetic data set
// in tmp/"data" (`train` and `test` images of 14x14) and small_config training into tmp/"ckpt".
struct TrainingFixture {
    Quiet quiet;
    TempDir tmp;
    mnist::TrainConfig config;
    explicit TrainingFixture(uint32_t train = 1100, uint32_t test = 200) {
        write_synthetic_mnist(tmp / "data", train, test);
        config = small_config(tmp / "data", tmp / "ckpt");
    }
    // The configuration training into tmp/name instead.
    mnist::TrainConfig config_in(const std::string& name) const {
        mnist::TrainConfig c = config;
        c.ckpt_dir = tmp / name;
        return c;
    }
};

}  // namespace testutil
