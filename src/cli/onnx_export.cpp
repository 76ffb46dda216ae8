// ONNX export of a checkpoint's network (see onnx_export.hpp).
#include "src/cli/onnx_export.hpp"

#include "src/errors.hpp"
#include "src/text.hpp"

#ifdef MNIST_HAVE_ONNX
#include <onnx/onnx_pb.h>
#endif

namespace mnist {

#ifdef MNIST_HAVE_ONNX
namespace {

constexpr int64_t kOpset = 13;
constexpr int64_t kIrVersion = 8;

void set_float_tensor_type(onnx::ValueInfoProto* v, const std::string& name, int64_t width) {
    v->set_name(name);
    onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto_DataType_FLOAT);
    t->mutable_shape()->add_dim()->set_dim_param("N");
    t->mutable_shape()->add_dim()->set_dim_value(width);
}

onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& in,
                          const std::string& out) {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(out);
    for (const std::string& i : in) n->add_input(i);
    n->add_output(out);
    return n;
}

void add_weight(onnx::GraphProto* g, const std::string& name, const Matrix& w) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto_DataType_FLOAT);
    t->add_dims(w.rows());
    t->add_dims(w.cols());
    // Row-major floats; raw_data is little-endian, as this machine's floats (x86-64, AArch64).
    t->set_raw_data(std::string(reinterpret_cast<const char*>(w.data()), size_t(w.size()) * sizeof(float)));
}

void add_metadata(onnx::ModelProto& m, const std::string& key, const std::string& value) {
    onnx::StringStringEntryProto* e = m.add_metadata_props();
    e->set_key(key);
    e->set_value(value);
}

}  // namespace

bool onnx_available() { return true; }

std::vector<uint8_t> encode_onnx(const TrainingState& st, const std::string& source) {
    onnx::ModelProto m;
    m.set_ir_version(kIrVersion);
    m.set_producer_name("mnist-mlp");
    m.set_producer_version(MNIST_VERSION);
    m.set_doc_string("MNIST multilayer perceptron " + widths_text(st.net.sizes) + ", ReLU, no biases; input = pixel bytes * (1/255)");
    onnx::OperatorSetIdProto* opset = m.add_opset_import();
    opset->set_domain("");
    opset->set_version(kOpset);
    onnx::GraphProto* g = m.mutable_graph();
    g->set_name("mnist_mlp");
    set_float_tensor_type(g->add_input(), "pixels", st.net.sizes.front());
    std::string x = "pixels";
    for (size_t l = 0; l < st.net.layers(); ++l) {
        const std::string w = weight_name(l, st.net.layers());
        add_weight(g, w, st.net.weights[l]);
        const bool last = l + 1 == st.net.layers();
        add_node(g, "MatMul", {x, w}, last ? "logits" : w + "_product");
        if (!last) x = add_node(g, "Relu", {w + "_product"}, w + "_relu")->output(0);
    }
    add_node(g, "Softmax", {"logits"}, "probabilities")->add_attribute()->CopyFrom([] {
        onnx::AttributeProto a;
        a.set_name("axis");
        a.set_type(onnx::AttributeProto_AttributeType_INT);
        a.set_i(1);
        return a;
    }());
    set_float_tensor_type(g->add_output(), "probabilities", st.net.sizes.back());
    add_metadata(m, "global_step", std::to_string(st.global_step));
    add_metadata(m, "epoch", std::to_string(st.epoch()));
    add_metadata(m, "config", to_json(st.config));
    add_metadata(m, "source", source);
    std::string bytes;
    if (!m.SerializeToString(&bytes)) throw CheckpointError(source + ": the ONNX model could not be serialized");
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

#else

bool onnx_available() { return false; }

std::vector<uint8_t> encode_onnx(const TrainingState&, const std::string&) {
    throw ConfigError("--format onnx: this build of ckpt was made without ONNX (libonnx-dev was not found by "
                      "CMake); install libonnx-dev libprotobuf-dev and rebuild");
}

#endif

}  // namespace mnist
