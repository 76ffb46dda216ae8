// Pictures of images: an RGB canvas, a grid of labelled data-set images (misclassified test images
// with "true>pred" drawn in a built-in 3x5 digit font), and a PNG writer (libpng).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data_loader/mnist.hpp"
#include "src/errors.hpp"

namespace mnist {

struct RgbImage {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;  // row after row, 3 bytes per pixel
    uint8_t* at(int x, int y) { return rgb.data() + (size_t(y) * size_t(width) + size_t(x)) * 3; }
};

// A grid of images of `data` chosen by `indices`, at most `max` of them, each shown twice its size
// above a label "T>P" (T = labels[i], P = predicted[i]; true in green, predicted in red).
// requires: indices.size() == predicted.size(), every index below data.size(), labels 0..9.
RgbImage labelled_grid(const Dataset& data, const std::vector<uint32_t>& indices,
                       const std::vector<uint8_t>& predicted, size_t max);

// Writes an 8-bit RGB PNG. throws PngError naming the file when it cannot be written.
void write_png(const std::string& path, const RgbImage& image);

}  // namespace mnist
