// Tests of var_list transfers: mappings parse as TARGET=SOURCE assignments (bare names keep their
// name) and malformed ones are refused; export picks and renames tensors byte for byte and its file
// reads back and verifies; warm start copies exactly the mapped tensors (and, if asked, their RMSProp
// slots) and leaves the rest as init_mlp draws them; every kind of mismatch is refused with all
// offenders and both shapes in one message, and nothing changes.
#include <catch2/catch.hpp>

#include <cstring>

#include "src/checkpoint/transfer.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;
using Catch::Matchers::Contains;
using testutil::TempDir;

namespace {

// A model as a new run starts it: weights from init_mlp, slots at their initial values.
TrainingState new_model(const std::vector<int>& sizes, uint64_t seed = 3) {
    TrainingState s;
    s.config = testutil::small_config("data", "ckpt");
    s.config.hidden.assign(sizes.begin() + 1, sizes.end() - 1);
    s.net = init_mlp(sizes, seed);
    s.opt = make_rmsprop(s.net, {});
    return s;
}

// A trained-looking training checkpoint's tensors: other weights than new_model's and slots that
// differ from their initial values.
TensorFile trained_file(const std::vector<int>& sizes) {
    TrainingState s = new_model(sizes, 11);
    for (size_t l = 0; l < s.net.layers(); ++l) {
        s.opt.ms[l] = s.net.weights[l].cwiseAbs().array() + 0.25f;
        s.opt.mom[l] = s.net.weights[l] * 0.5f;
    }
    s.global_step = 40;
    s.steps_per_epoch = 10;
    return to_tensor_file(s);
}

bool same_bytes(const Matrix& m, const Tensor& t) {
    return t.dtype == "F32" && t.shape == std::vector<int64_t>{m.rows(), m.cols()} &&
           std::memcmp(m.data(), t.bytes.data(), t.bytes.size()) == 0;
}

bool same_bytes(const Matrix& a, const Matrix& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.size())) == 0;
}

void require_unchanged(const TrainingState& got, const TrainingState& want) {
    for (size_t l = 0; l < want.net.layers(); ++l) {
        REQUIRE(same_bytes(got.net.weights[l], want.net.weights[l]));
        REQUIRE(same_bytes(got.opt.ms[l], want.opt.ms[l]));
        REQUIRE(same_bytes(got.opt.mom[l], want.opt.mom[l]));
    }
}

}  // namespace

TEST_CASE("transfer: a mapping reads as TARGET=SOURCE assignments and a bare name keeps its name", "[transfer]") {
    const VarMap m = parse_var_map("weights=w_h, w_h2 ,out = w_o", "vars");
    REQUIRE(m.size() == 3);
    CHECK(m[0].target == "weights");
    CHECK(m[0].source == "w_h");
    CHECK(m[1].target == "w_h2");
    CHECK(m[1].source == "w_h2");
    CHECK(m[2].target == "out");
    CHECK(m[2].source == "w_o");
    CHECK(format_var_map(m) == "weights=w_h,w_h2,out=w_o");
    CHECK(format_var_map(parse_var_map(format_var_map(m), "vars")) == format_var_map(m));
}

TEST_CASE("transfer: a mapping may take one source under two names", "[transfer]") {
    const VarMap m = parse_var_map("a=w_h,b=w_h", "vars");
    REQUIRE(m.size() == 2);
    CHECK(m[1].source == "w_h");
}

TEST_CASE("transfer: a mapping with an empty name, two equals signs or a target named twice is refused", "[transfer]") {
    REQUIRE_THROWS_AS(parse_var_map("", "vars"), ConfigError);
    REQUIRE_THROWS_WITH(parse_var_map("  ", "vars"), Contains("--vars") && Contains("no names"));
    REQUIRE_THROWS_WITH(parse_var_map("w_h,,w_o", "vars"), Contains("--vars 'w_h,,w_o'") && Contains("item 2"));
    REQUIRE_THROWS_WITH(parse_var_map("w_h,", "init_map"), Contains("--init_map") && Contains("empty name"));
    REQUIRE_THROWS_WITH(parse_var_map("=w_h", "vars"), Contains("empty name"));
    REQUIRE_THROWS_WITH(parse_var_map("a=", "vars"), Contains("empty name"));
    REQUIRE_THROWS_WITH(parse_var_map("a=b=c", "vars"), Contains("'a=b=c'") && Contains("more than one '='"));
    REQUIRE_THROWS_WITH(parse_var_map("w_h,w_h=w_h2", "vars"), Contains("target 'w_h' is named twice"));
}

TEST_CASE("transfer: export keeps the chosen tensors under their new names byte for byte and reads back verified",
          "[transfer]") {
    const TensorFile from = trained_file({6, 5, 4, 10});
    const TensorFile out = export_tensors(from, parse_var_map("weights=w_h,w_o,step=global_step", "vars"),
                                          "/some/dir/model-40.safetensors");
    TempDir tmp;
    write_file_atomic(tmp.str(), "export.safetensors", encode_safetensors(out));
    const TensorFile back = read_transfer_source(tmp / "export.safetensors");
    REQUIRE(back.tensors.size() == 3);
    const char* names[][2] = {{"weights", "w_h"}, {"w_o", "w_o"}, {"step", "global_step"}};
    for (size_t i = 0; i < 3; ++i) {
        INFO(names[i][0]);
        const Tensor& t = back.tensors[i];
        const Tensor* src = from.find(names[i][1]);
        REQUIRE(src);
        CHECK(t.name == names[i][0]);
        CHECK(t.dtype == src->dtype);
        CHECK(t.shape == src->shape);
        CHECK(t.bytes == src->bytes);
    }
    CHECK(back.metadata.at("format") == "mnist-mlp-export");
    CHECK(back.metadata.at("format_version") == "1");
    CHECK(back.metadata.at("source") == "model-40.safetensors");
    CHECK(back.metadata.at("vars") == "weights=w_h,w_o,step=global_step");
    CHECK(back.metadata.at("source_global_step") == "40");
    REQUIRE_NOTHROW(verify_export(back, "export"));
    REQUIRE_NOTHROW(verify_tensor_crc32(back, "export"));
}

TEST_CASE("transfer: export of names the file lacks lists every missing name and the file's names", "[transfer]") {
    const TensorFile from = trained_file({6, 5, 10});
    REQUIRE_THROWS_AS(export_tensors(from, parse_var_map("w_h,w_h3,x=w_h4", "vars"), "f.safetensors"), CheckpointError);
    REQUIRE_THROWS_WITH(export_tensors(from, parse_var_map("w_h,w_h3,x=w_h4", "vars"), "f.safetensors"),
                        Contains("f.safetensors") && Contains("'w_h3', 'w_h4'") && Contains("w_h, w_o, w_h/RMSProp"));
    REQUIRE_THROWS_WITH(export_tensors(from, parse_var_map("__metadata__=w_h", "vars"), "f.safetensors"),
                        Contains("__metadata__"));
}

TEST_CASE("transfer: a damaged export is refused naming the tensor and both checksums", "[transfer]") {
    const TensorFile out = export_tensors(trained_file({6, 5, 10}), parse_var_map("w_h,w_o", "vars"), "m.safetensors");
    std::vector<uint8_t> bytes = encode_safetensors(out);
    bytes.back() ^= 0x40;  // the last byte of w_o
    TempDir tmp;
    testutil::write_bytes(tmp / "bad.safetensors", bytes);
    REQUIRE_THROWS_WITH(read_transfer_source(tmp / "bad.safetensors"),
                        Contains("bad.safetensors") && Contains("checksum mismatch in tensor 'w_o'"));
    TensorFile renamed = out;
    renamed.metadata["format_version"] = "2";
    REQUIRE_THROWS_WITH(verify_export(renamed, "x"), Contains("format_version '2'"));
}

TEST_CASE("transfer: warm start copies exactly the mapped tensors byte for byte and leaves the others as init_mlp draws them",
          "[transfer]") {
    const TensorFile from = trained_file({6, 5, 4, 10});
    TrainingState st = new_model({6, 5, 4, 4, 10});
    const TrainingState before = st;
    warm_start(st, from, parse_var_map("w_h=w_h,w_h2", "init_map"), false, "src.safetensors");
    CHECK(same_bytes(st.net.weights[0], *from.find("w_h")));
    CHECK(same_bytes(st.net.weights[1], *from.find("w_h2")));
    CHECK_FALSE(same_bytes(st.net.weights[0], before.net.weights[0]));
    const Mlp drawn = init_mlp({6, 5, 4, 4, 10}, 3);
    CHECK(same_bytes(st.net.weights[2], drawn.weights[2]));
    CHECK(same_bytes(st.net.weights[3], drawn.weights[3]));
    for (size_t l = 0; l < st.net.layers(); ++l) {  // slots untouched without the optimizer option
        CHECK(same_bytes(st.opt.ms[l], before.opt.ms[l]));
        CHECK(same_bytes(st.opt.mom[l], before.opt.mom[l]));
    }
    CHECK(st.global_step == 0);
}

TEST_CASE("transfer: warm start takes a file's tensor into a weight of another name", "[transfer]") {
    const TensorFile from = trained_file({6, 5, 5, 10});
    TrainingState deeper = new_model({6, 5, 5, 5, 10});
    warm_start(deeper, from, parse_var_map("w_h3=w_h2", "init_map"), false, "src");
    CHECK(same_bytes(deeper.net.weights[2], *from.find("w_h2")));
    CHECK(same_bytes(deeper.net.weights[1], init_mlp({6, 5, 5, 5, 10}, 3).weights[1]));
}

TEST_CASE("transfer: warm start refuses a source name missing from the file, naming both sides", "[transfer]") {
    const TensorFile from = trained_file({6, 5, 10});
    TrainingState st = new_model({6, 5, 4, 10});
    const TrainingState before = st;
    REQUIRE_THROWS_AS(warm_start(st, from, parse_var_map("w_h2", "init_map"), false, "src.safetensors"), CheckpointError);
    REQUIRE_THROWS_WITH(warm_start(st, from, parse_var_map("w_h2", "init_map"), false, "src.safetensors"),
                        Contains("'src.safetensors'") && Contains("the file has no tensor 'w_h2'") &&
                            Contains("new model: w_h2 F32 [5, 4]; file: w_h2 absent"));
    require_unchanged(st, before);
}

TEST_CASE("transfer: warm start refuses a name that is not a weight of the new model, listing its weights", "[transfer]") {
    const TensorFile from = trained_file({6, 5, 10});
    TrainingState st = new_model({6, 5, 10});
    REQUIRE_THROWS_WITH(warm_start(st, from, parse_var_map("w_h3=w_h", "init_map"), false, "src"),
                        Contains("w_h3=w_h: the new model has no weight 'w_h3'") &&
                            Contains("new model: w_h3 absent; file: w_h F32 [6, 5]") &&
                            Contains("its weights are w_h, w_o"));
    REQUIRE_THROWS_WITH(warm_start(st, from, parse_var_map("global_step", "init_map"), false, "src"),
                        Contains("no weight 'global_step'"));
}

TEST_CASE("transfer: warm start refuses a shape mismatch, naming both shapes", "[transfer]") {
    const TensorFile from = trained_file({6, 5, 10});
    TrainingState st = new_model({6, 7, 10});
    const TrainingState before = st;
    REQUIRE_THROWS_WITH(warm_start(st, from, parse_var_map("w_h", "init_map"), false, "src"),
                        Contains("w_h: shape mismatch (new model: w_h F32 [6, 7]; file: w_h F32 [6, 5])"));
    REQUIRE_THROWS_WITH(warm_start(st, from, parse_var_map("w_h=global_step", "init_map"), false, "src"),
                        Contains("shape mismatch (new model: w_h F32 [6, 7]; file: global_step I64 [])"));
    require_unchanged(st, before);
}

TEST_CASE("transfer: warm start lists every offender in one message and changes nothing", "[transfer]") {
    const TensorFile from = trained_file({6, 5, 4, 10});
    TrainingState st = new_model({6, 5, 3, 3, 10});
    const TrainingState before = st;
    std::string message;
    try {
        warm_start(st, from, parse_var_map("w_h,w_h2,w_h3,w_x=w_o,w_o", "init_map"), false, "src.safetensors");
    } catch (const CheckpointError& e) {
        message = e.what();
    }
    CHECK_THAT(message, Contains("cannot initialise the new model from 'src.safetensors'"));
    CHECK_THAT(message, Contains("w_h2: shape mismatch (new model: w_h2 F32 [5, 3]; file: w_h2 F32 [5, 4])"));
    CHECK_THAT(message, Contains("w_h3: the file has no tensor 'w_h3' (new model: w_h3 F32 [3, 3]; file: w_h3 absent)"));
    CHECK_THAT(message, Contains("w_x=w_o: the new model has no weight 'w_x'"));
    CHECK_THAT(message, Contains("w_o: shape mismatch (new model: w_o F32 [3, 10]; file: w_o F32 [4, 10])"));
    CHECK_THAT(message, !Contains("w_h:"));  // w_h fits: not an offender
    require_unchanged(st, before);  // not even the fitting w_h was copied
}

TEST_CASE("transfer: with the optimizer slots warm start copies RMSProp and RMSProp_1 of each mapped source",
          "[transfer]") {
    const TensorFile from = trained_file({6, 5, 5, 10});
    TrainingState st = new_model({6, 5, 5, 5, 10});
    const TrainingState before = st;
    warm_start(st, from, parse_var_map("w_h,w_h3=w_h2", "init_map"), true, "src");
    CHECK(same_bytes(st.net.weights[0], *from.find("w_h")));
    CHECK(same_bytes(st.opt.ms[0], *from.find("w_h/RMSProp")));
    CHECK(same_bytes(st.opt.mom[0], *from.find("w_h/RMSProp_1")));
    CHECK(same_bytes(st.net.weights[2], *from.find("w_h2")));
    CHECK(same_bytes(st.opt.ms[2], *from.find("w_h2/RMSProp")));
    CHECK(same_bytes(st.opt.mom[2], *from.find("w_h2/RMSProp_1")));
    for (size_t l : {size_t(1), size_t(3)}) {  // unmapped: as a new run
        CHECK(same_bytes(st.net.weights[l], before.net.weights[l]));
        CHECK(same_bytes(st.opt.ms[l], before.opt.ms[l]));
        CHECK(same_bytes(st.opt.mom[l], before.opt.mom[l]));
    }
}

TEST_CASE("transfer: warm start with the optimizer slots refuses a file without them, naming each", "[transfer]") {
    const TensorFile exported = export_tensors(trained_file({6, 5, 10}), parse_var_map("w_h", "vars"), "m");
    TrainingState st = new_model({6, 5, 10});
    const TrainingState before = st;
    REQUIRE_NOTHROW(warm_start(st, exported, parse_var_map("w_h", "init_map"), false, "e"));
    st = before;
    REQUIRE_THROWS_WITH(warm_start(st, exported, parse_var_map("w_h", "init_map"), true, "e"),
                        Contains("no tensor 'w_h/RMSProp'") && Contains("no tensor 'w_h/RMSProp_1'") &&
                            Contains("new model: w_h/RMSProp F32 [6, 5]"));
    require_unchanged(st, before);
}

TEST_CASE("transfer: the default mapping is every weight name present in both, in layer order", "[transfer]") {
    const TensorFile from = trained_file({6, 5, 4, 10});
    const VarMap m = common_weights(new_model({6, 5, 4, 4, 10}).net, from);
    CHECK(format_var_map(m) == "w_h,w_h2,w_o");
    const TensorFile only_renamed = export_tensors(from, parse_var_map("weights=w_h", "vars"), "m");
    CHECK(common_weights(new_model({6, 5, 10}).net, only_renamed).empty());
}
