// Chunked inference over a data set (see evaluate.hpp).
#include "src/evaluate.hpp"

#include <algorithm>
#include <cctype>

namespace mnist {

EvalResult evaluate(const Mlp& net, const Dataset& data, Workspace& ws) {
    const int classes = net.sizes.back();
    EvalResult r;
    r.count = int64_t(data.size());
    r.confusion.assign(classes, std::vector<int64_t>(classes, 0));
    double loss_sum = 0;
    for (size_t first = 0; first < data.size(); first += size_t(ws.capacity)) {
        const int n = int(std::min<size_t>(size_t(ws.capacity), data.size() - first));
        gather_batch(data, nullptr, first, size_t(n), ws.input.data());
        forward_logits(net, ws, n);
        // Per-row losses are summed in row order, so the chunk size cannot change the result.
        for (int i = 0; i < n; ++i) {
            const float* z = ws.logits.data() + size_t(i) * classes;
            const uint8_t label = data.labels[first + i];
            loss_sum += softmax_cross_entropy(z, 1, classes, &label, nullptr);
            int best = 0;
            for (int c = 1; c < classes; ++c)
                if (z[c] > z[best]) best = c;
            ++r.confusion[label][best];
            if (best == label) ++r.correct;
            else {
                r.errors.push_back(uint32_t(first + i));
                r.error_predictions.push_back(uint8_t(best));
            }
        }
    }
    if (r.count > 0) {
        r.accuracy = double(r.correct) / double(r.count);
        r.loss = loss_sum / double(r.count);
    }
    for (int c = 0; c < classes; ++c) {
        int64_t total = 0;
        for (int64_t v : r.confusion[c]) total += v;
        r.per_class_accuracy.push_back(total ? double(r.confusion[c][c]) / double(total) : 0.0);
    }
    return r;
}

std::vector<std::string> class_names(const std::string& kind, const std::string& data_dir) {
    std::string lower = data_dir;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    if (kind == "fashion" || (kind == "auto" && lower.find("fashion") != std::string::npos))
        return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

}  // namespace mnist
