// Moving tensors between files and models under chosen names: tf.train.Saver's var_list, both halves.
// A mapping 'weights=w_h,w_o' reads like assignments, TARGET=SOURCE, and a bare name keeps its name.
//   saving:    export_tensors  picks tensors of a file, renamed, into a plain safetensors file
//              (ckpt export);
//   restoring: warm_start      gives a new run's weights (and, if asked, RMSProp slots) the values
//              of another file's tensors (train --init_from), e.g. the first layers of a trained
//              784-625-625-10 network in a new 784-625-625-625-10 one.
// Shapes are checked before anything changes; every offending name is listed in one message.
#pragma once
#include <string>
#include <vector>

#include "src/checkpoint/checkpoint_file.hpp"
#include "src/var_map.hpp"

namespace mnist {

constexpr const char* kExportFormat = "mnist-mlp-export";
constexpr int kExportFormatVersion = 1;

// What a safetensors file is, by its metadata 'format': a training checkpoint, an export, or any
// other safetensors file (another program's).
enum class TensorFileKind { checkpoint, exported, other };
TensorFileKind kind_of(const TensorFile& f);

// Every check that applies to f's kind: a training checkpoint gets every check of a restore, an
// export those of verify_export, any other file the check of its tensor_crc32 when it has one.
// Returns the kind. throws CheckpointError naming `what`.
TensorFileKind verify_tensor_file(const TensorFile& f, const std::string& what);

// A safetensors file to take tensors from, read and checked by verify_tensor_file.
// throws CheckpointError naming path.
TensorFile read_transfer_source(const std::string& path);

// The tensors of `from` chosen and renamed by `map`, in map order, with the export's __metadata__:
// format, format_version, source (the file name of `source_path`), vars (the mapping),
// checksum_algorithm and tensor_crc32, and source_global_step when `from` has a global_step.
// throws CheckpointError naming source_path and every mapped name missing from it.
TensorFile export_tensors(const TensorFile& from, const VarMap& map, const std::string& source_path);

// Checks an exported file: format and format_version, and every tensor's checksum.
// throws CheckpointError naming `what`, the field or tensor, what was expected and what was found.
void verify_export(const TensorFile& f, const std::string& what);

// Every weight name of net (w_h, ..., w_o) that `from` also holds, mapped to itself, in layer order.
VarMap common_weights(const Mlp& net, const TensorFile& from);

// Gives st's weights named by the targets of `map` the values of the tensors of `from` named by the
// sources, byte for byte; with `slots` also "<target>/RMSProp" and "<target>/RMSProp_1" from the
// source's. Everything else in st is left as it is.
// throws CheckpointError naming `what` (the file) and listing every offender with both sides' names
// and shapes: a source missing from the file (a slot too, with `slots`), a target that is not a weight
// of the model, a dtype or shape mismatch. Nothing in st changes when it throws.
void warm_start(TrainingState& st, const TensorFile& from, const VarMap& map, bool slots, const std::string& what);

}  // namespace mnist
