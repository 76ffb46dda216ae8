// Any picture of a digit made to look like an MNIST image, as MNIST itself was made: grey, light
// ink on a dark background (the polarity is detected from the border), cropped to the ink, scaled
// to fit 20x20 keeping the aspect ratio (area averaging), and placed in 28x28 with its centre of
// mass at the centre. Then classified by a network exactly as the trainer sees an image (bytes
// times kPixelScale). ./predict and ./board both use it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "src/cli/image_file.hpp"
#include "src/model/mlp.hpp"

namespace mnist {

constexpr int kMnistSide = 28;    // the output is kMnistSide x kMnistSide
constexpr int kMnistDigitBox = 20;  // the ink is scaled to fit this box

struct Preprocessed {
    std::vector<uint8_t> pixels;  // 28x28 bytes, 0 = background, 255 = full ink
    bool inverted = false;        // the picture was dark on light
};

// requires: image.width, image.height >= 1 and image.v of their product.
// throws ImageError naming `what` when the picture has no ink (its pixels differ too little from
// the background to tell a digit from noise).
Preprocessed mnist_preprocess(const GreyImage& image, const std::string& what);

struct Prediction {
    int label = 0;                       // the most probable class
    std::vector<double> probabilities;   // softmax of the logits, one per class
};

// Classifies one image of net.sizes[0] bytes (an MNIST image as in the data files).
// throws ImageError naming `what` when the network takes another number of pixels.
Prediction classify(const Mlp& net, const std::vector<uint8_t>& pixels, const std::string& what);

}  // namespace mnist
