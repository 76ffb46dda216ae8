// Mappings between tensor names, as tf.train.Saver's var_list: 'weights=w_h,w_o' reads like
// assignments, TARGET=SOURCE, and a bare name keeps its name. Written by users in --init_map and
// `ckpt export --vars`; used by checkpoint/transfer.
#pragma once
#include <string>
#include <vector>

namespace mnist {

struct VarMapping {
    std::string target;  // the name given to the value (in the new file or the new model)
    std::string source;  // the name it is taken from
};
using VarMap = std::vector<VarMapping>;  // in the order written

// "weights=w_h,w_h2" -> {("weights","w_h"), ("w_h2","w_h2")}; spaces around names are ignored.
// throws ConfigError naming `option` and the text: an empty list or name, two '=' in one item,
// a target named twice.
VarMap parse_var_map(const std::string& text, const std::string& option);
// The inverse of parse_var_map: "weights=w_h,w_h2" (a mapping that keeps its name is written bare).
std::string format_var_map(const VarMap& map);

}  // namespace mnist
