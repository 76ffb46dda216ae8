// IDX files (the MNIST container format): validated reading of image and label files, raw or
// gzip-compressed. Knows nothing about networks: it returns checked byte arrays.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "src/errors.hpp"  // IdxError: the message names the file, the field, what was expected and found

namespace mnist {

struct IdxImages {
    uint32_t count = 0, rows = 0, cols = 0;
    std::vector<uint8_t> pixels;  // count*rows*cols bytes, row-major, image after image
};

// requires: path names an IDX3 unsigned-byte file (magic 2051), raw or gzip (detected by content).
// ensures:  pixels.size() == count*rows*cols, and the file holds exactly that many bytes after the header.
// throws:   IdxError on a missing/unreadable file, bad magic, zero dims, short or over-long body.
IdxImages read_idx_images(const std::string& path);

// requires: path names an IDX1 unsigned-byte file (magic 2049), raw or gzip.
// ensures:  every label is below num_classes.
// throws:   IdxError as read_idx_images, and for a label value >= num_classes.
std::vector<uint8_t> read_idx_labels(const std::string& path, int num_classes = 10);

// The same checks on a file's bytes already in memory (raw or gzip); `what` names them in messages.
IdxImages decode_idx_images(std::vector<uint8_t> file, const std::string& what);
std::vector<uint8_t> decode_idx_labels(std::vector<uint8_t> file, const std::string& what, int num_classes = 10);

}  // namespace mnist
