// Tests of the safetensors container: round trips, the layout other readers rely on (aligned data, a
// header that is plain JSON), and one test per rejection, each checking that the message names the
// file, the tensor or field and what was wrong. Corrupt files are built by hand from a header string.
#include <catch2/catch.hpp>

#include <cstring>
#include <nlohmann/json.hpp>

#include "src/checkpoint/safetensors.hpp"

using namespace mnist;
using Catch::Matchers::Contains;

namespace {

// A file made of the 8-byte length, `header` verbatim and `data_size` bytes of data.
std::vector<uint8_t> raw(const std::string& header, size_t data_size, uint64_t declared = UINT64_MAX) {
    const uint64_t n = declared == UINT64_MAX ? header.size() : declared;
    std::vector<uint8_t> out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    for (size_t i = 0; i < data_size; ++i) out.push_back(static_cast<uint8_t>(i));
    return out;
}

TensorFile sample() {
    TensorFile f;
    std::vector<float> w(3 * 5);
    for (size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * static_cast<float>(i) - 1.0f;
    f.tensors.push_back(make_f32("w1", {3, 5}, w.data()));
    f.tensors.push_back(make_i64_scalar("step", 2145));
    const float v[2] = {1.5f, -2.0f};
    f.tensors.push_back(make_f32("v", {2}, v));
    f.metadata["format"] = "mnist-mlp";
    f.metadata["config"] = "{\"hidden\":[625,625]}";
    return f;
}

uint64_t header_length(const std::vector<uint8_t>& bytes) {
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(bytes[i]) << (8 * i);
    return n;
}

}  // namespace

TEST_CASE("safetensors: an F32 matrix, an I64 scalar and metadata survive a round trip", "[safetensors]") {
    const TensorFile f = sample();
    const TensorFile g = decode_safetensors(encode_safetensors(f), "model-1.safetensors");
    REQUIRE(g.tensors.size() == 3);
    REQUIRE(g.metadata == f.metadata);
    for (size_t i = 0; i < 3; ++i) {
        REQUIRE(g.tensors[i].name == f.tensors[i].name);
        REQUIRE(g.tensors[i].dtype == f.tensors[i].dtype);
        REQUIRE(g.tensors[i].shape == f.tensors[i].shape);
        REQUIRE(g.tensors[i].bytes == f.tensors[i].bytes);
    }
    const Tensor* w = g.find("w1");
    REQUIRE(w != nullptr);
    REQUIRE(w->elements() == 15);
    REQUIRE(w->f32()[0] == -1.0f);
    REQUIRE(w->f32()[14] == 2.5f);
    REQUIRE(g.find("step")->i64_scalar() == 2145);
    REQUIRE(g.find("missing") == nullptr);
}

TEST_CASE("safetensors: a file without tensors or metadata round trips", "[safetensors]") {
    const TensorFile g = decode_safetensors(encode_safetensors(TensorFile{}), "empty.safetensors");
    REQUIRE(g.tensors.empty());
    REQUIRE(g.metadata.empty());
}

TEST_CASE("safetensors: empty tensors and negative I64 scalars round trip", "[safetensors]") {
    TensorFile f;
    f.tensors.push_back(make_f32("none", {0, 7}, nullptr));
    f.tensors.push_back(make_i64_scalar("neg", -5));
    f.tensors.push_back(make_f32("also_none", {4, 0}, nullptr));
    const TensorFile g = decode_safetensors(encode_safetensors(f), "e.safetensors");
    REQUIRE(g.tensors.size() == 3);
    REQUIRE(g.tensors[0].name == "none");
    REQUIRE(g.tensors[0].elements() == 0);
    REQUIRE(g.find("neg")->i64_scalar() == -5);
    REQUIRE(g.find("also_none")->shape == std::vector<int64_t>{4, 0});
}

TEST_CASE("safetensors: the data starts at a multiple of 8 bytes", "[safetensors]") {
    for (int extra = 0; extra < 10; ++extra) {
        TensorFile f = sample();
        f.metadata["pad"] = std::string(static_cast<size_t>(extra), 'x');
        const auto bytes = encode_safetensors(f);
        const uint64_t n = header_length(bytes);
        REQUIRE((8 + n) % 8 == 0);
        REQUIRE(bytes.size() == 8 + n + 15 * 4 + 8 + 2 * 4);
        REQUIRE(bytes[8 + n - 1] != '\0');
    }
}

TEST_CASE("safetensors: the header is plain JSON listing metadata first and tensors in file order",
          "[safetensors]") {
    const auto bytes = encode_safetensors(sample());
    const uint64_t n = header_length(bytes);
    const std::string text(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
    const auto j = nlohmann::ordered_json::parse(text);
    std::vector<std::string> keys;
    for (const auto& item : j.items()) keys.push_back(item.key());
    REQUIRE(keys == std::vector<std::string>{"__metadata__", "w1", "step", "v"});
    REQUIRE(j["__metadata__"]["format"] == "mnist-mlp");
    REQUIRE(j["w1"]["dtype"] == "F32");
    REQUIRE(j["w1"]["shape"] == nlohmann::ordered_json::array({3, 5}));
    REQUIRE(j["w1"]["data_offsets"] == nlohmann::ordered_json::array({0, 60}));
    REQUIRE(j["step"]["dtype"] == "I64");
    REQUIRE(j["step"]["shape"] == nlohmann::ordered_json::array());
    REQUIRE(j["step"]["data_offsets"] == nlohmann::ordered_json::array({60, 68}));
    REQUIRE(j["v"]["data_offsets"] == nlohmann::ordered_json::array({68, 76}));
    // The data is the raw little-endian values: read one float back without the decoder.
    float first = 0;
    std::memcpy(&first, bytes.data() + 8 + n, 4);
    REQUIRE(first == -1.0f);
}

TEST_CASE("safetensors: tensors are returned in data order even when the header lists them otherwise",
          "[safetensors]") {
    const std::string h =
        R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    const TensorFile g = decode_safetensors(raw(h, 8), "f");
    REQUIRE(g.tensors.size() == 2);
    REQUIRE(g.tensors[0].name == "a");
    REQUIRE(g.tensors[1].name == "b");
}

TEST_CASE("safetensors: accepts a header padded with trailing spaces", "[safetensors]") {
    const std::string h = R"({"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})";
    REQUIRE(decode_safetensors(raw(h + "     ", 8), "f").find("a") != nullptr);
}

TEST_CASE("safetensors: rejects a file shorter than the 8-byte length field", "[safetensors]") {
    for (size_t len : {0, 1, 7}) {
        const std::vector<uint8_t> bytes(len, 0);
        REQUIRE_THROWS_AS(decode_safetensors(bytes, "short.safetensors"), CheckpointError);
        REQUIRE_THROWS_WITH(decode_safetensors(bytes, "short.safetensors"),
                            Contains("short.safetensors") && Contains("shorter than the 8-byte"));
    }
}

TEST_CASE("safetensors: rejects a header length of 0", "[safetensors]") {
    REQUIRE_THROWS_WITH(decode_safetensors(raw("", 0), "z.safetensors"),
                        Contains("z.safetensors") && Contains("header length is 0"));
}

TEST_CASE("safetensors: rejects a header length above 100,000,000 bytes", "[safetensors]") {
    REQUIRE_THROWS_WITH(decode_safetensors(raw("{}", 0, 100'000'001), "big.safetensors"),
                        Contains("big.safetensors") && Contains("100000001") && Contains("100000000"));
    REQUIRE_THROWS_WITH(decode_safetensors(raw("{}", 0, UINT64_MAX - 1), "big.safetensors"),
                        Contains("exceeds the limit"));
}

TEST_CASE("safetensors: rejects a header length beyond the end of the file", "[safetensors]") {
    REQUIRE_THROWS_WITH(decode_safetensors(raw("{}", 0, 3), "f.safetensors"),
                        Contains("f.safetensors") && Contains("header length 3 extends beyond the file") &&
                            Contains("only 2 bytes"));
}

TEST_CASE("safetensors: rejects a file truncated at any length", "[safetensors]") {
    const auto bytes = encode_safetensors(sample());
    const uint64_t n = header_length(bytes);
    // Inside the length field, inside the header, at the data start, inside and at the end of tensors.
    for (size_t len : {size_t{3}, size_t{8}, size_t{9}, size_t{8 + n / 2}, size_t{8 + n - 1}, size_t{8 + n},
                       size_t{8 + n + 1}, size_t{8 + n + 60}, bytes.size() - 4, bytes.size() - 1}) {
        INFO("truncated to " << len << " of " << bytes.size() << " bytes");
        const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len));
        REQUIRE_THROWS_AS(decode_safetensors(cut, "cut.safetensors"), CheckpointError);
        REQUIRE_THROWS_WITH(decode_safetensors(cut, "cut.safetensors"), Contains("cut.safetensors"));
    }
    REQUIRE_THROWS_WITH(decode_safetensors(std::vector<uint8_t>(bytes.begin(), bytes.end() - 1), "c"),
                        Contains("tensor \"v\"") && Contains("beyond the data section of 75 bytes"));
}

TEST_CASE("safetensors: rejects a header that is not valid JSON", "[safetensors]") {
    REQUIRE_THROWS_WITH(decode_safetensors(raw("{\"a\":", 0), "bad.safetensors"),
                        Contains("bad.safetensors") && Contains("not valid UTF-8 JSON"));
}

TEST_CASE("safetensors: rejects a header that is not UTF-8", "[safetensors]") {
    REQUIRE_THROWS_WITH(decode_safetensors(raw("{\"\xff\xfe\":{}}", 0), "bad.safetensors"),
                        Contains("not valid UTF-8 JSON"));
}

TEST_CASE("safetensors: rejects a header that is not a JSON object", "[safetensors]") {
    REQUIRE_THROWS_WITH(decode_safetensors(raw("[1,2]", 0), "arr.safetensors"),
                        Contains("arr.safetensors") && Contains("expected a JSON object, found array"));
}

TEST_CASE("safetensors: rejects __metadata__ that is not an object of strings", "[safetensors]") {
    REQUIRE_THROWS_WITH(decode_safetensors(raw(R"({"__metadata__":[1]})", 0), "m"),
                        Contains("__metadata__: expected an object of strings, found [1]"));
    REQUIRE_THROWS_WITH(decode_safetensors(raw(R"({"__metadata__":{"step":12}})", 0), "m"),
                        Contains("__metadata__: \"step\": expected a string, found 12"));
}

TEST_CASE("safetensors: rejects a tensor entry that is not an object", "[safetensors]") {
    REQUIRE_THROWS_WITH(decode_safetensors(raw(R"({"w":5})", 0), "t"),
                        Contains("tensor \"w\": expected an object, found 5"));
}

TEST_CASE("safetensors: rejects a tensor without dtype, shape or data_offsets", "[safetensors]") {
    REQUIRE_THROWS_WITH(decode_safetensors(raw(R"({"w":{"shape":[],"data_offsets":[0,4]}})", 4), "t"),
                        Contains("tensor \"w\": missing field \"dtype\""));
    REQUIRE_THROWS_WITH(decode_safetensors(raw(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4), "t"),
                        Contains("tensor \"w\": missing field \"shape\""));
    REQUIRE_THROWS_WITH(decode_safetensors(raw(R"({"w":{"dtype":"F32","shape":[]}})", 4), "t"),
                        Contains("tensor \"w\": missing field \"data_offsets\""));
}

TEST_CASE("safetensors: rejects dtypes other than F32 and I64, naming the dtype", "[safetensors]") {
    for (const char* dtype : {"F16", "F64", "BF16", "I32", "U8", "BOOL", "f32"}) {
        const std::string h =
            std::string(R"({"w":{"dtype":")") + dtype + R"(","shape":[2],"data_offsets":[0,4]}})";
        REQUIRE_THROWS_WITH(decode_safetensors(raw(h, 4), "d.safetensors"),
                            Contains("d.safetensors") &&
                                Contains("tensor \"w\": dtype: expected F32 or I64") &&
                                Contains(std::string("found \"") + dtype + "\""));
    }
    REQUIRE_THROWS_WITH(
        decode_safetensors(raw(R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", 4), "d"),
        Contains("dtype: expected a string, found 4"));
}

TEST_CASE("safetensors: rejects a shape that is not an array of non-negative integers", "[safetensors]") {
    const auto with_shape = [](const std::string& shape) {
        return raw(R"({"w":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,0]}})", 0);
    };
    REQUIRE_THROWS_WITH(decode_safetensors(with_shape("3"), "s"),
                        Contains("tensor \"w\": shape: expected an array, found 3"));
    REQUIRE_THROWS_WITH(decode_safetensors(with_shape("[2,-1]"), "s"),
                        Contains("shape: expected a non-negative integer at index 1, found -1"));
    REQUIRE_THROWS_WITH(decode_safetensors(with_shape("[2.5]"), "s"),
                        Contains("shape: expected a non-negative integer at index 0, found 2.5"));
    REQUIRE_THROWS_WITH(decode_safetensors(with_shape("[\"2\"]"), "s"),
                        Contains("non-negative integer at index 0"));
    REQUIRE_THROWS_WITH(decode_safetensors(with_shape("[18446744073709551615]"), "s"),
                        Contains("non-negative integer at index 0"));
}

TEST_CASE("safetensors: rejects a shape whose element count overflows", "[safetensors]") {
    const std::string h = R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})";
    REQUIRE_THROWS_WITH(decode_safetensors(raw(h, 0), "o"),
                        Contains("tensor \"w\": shape [4294967296, 4294967296] has too many elements"));
    // Fits int64 as an element count but not as bytes.
    const std::string h2 = R"({"w":{"dtype":"I64","shape":[4611686018427387904],"data_offsets":[0,0]}})";
    REQUIRE_THROWS_WITH(decode_safetensors(raw(h2, 0), "o"), Contains("has too many elements"));
}

TEST_CASE("safetensors: rejects data_offsets that are not two non-negative integers", "[safetensors]") {
    const auto with_offsets = [](const std::string& off) {
        return raw(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":)" + off + "}}", 4);
    };
    REQUIRE_THROWS_WITH(decode_safetensors(with_offsets("[0]"), "o"),
                        Contains("tensor \"w\": data_offsets: expected [begin, end], found [0]"));
    REQUIRE_THROWS_WITH(decode_safetensors(with_offsets("[0,4,8]"), "o"), Contains("expected [begin, end]"));
    REQUIRE_THROWS_WITH(decode_safetensors(with_offsets("{}"), "o"), Contains("expected [begin, end]"));
    REQUIRE_THROWS_WITH(decode_safetensors(with_offsets("[-1,4]"), "o"),
                        Contains("expected two non-negative integers, found [-1,4]"));
    REQUIRE_THROWS_WITH(decode_safetensors(with_offsets("[0,4.0]"), "o"),
                        Contains("expected two non-negative integers"));
}

TEST_CASE("safetensors: rejects data_offsets whose begin is after their end", "[safetensors]") {
    REQUIRE_THROWS_WITH(
        decode_safetensors(raw(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", 4), "o"),
        Contains("tensor \"w\": data_offsets: expected begin <= end, found [4, 0]"));
}

TEST_CASE("safetensors: rejects data_offsets that end beyond the data", "[safetensors]") {
    REQUIRE_THROWS_WITH(
        decode_safetensors(raw(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "o"),
        Contains("tensor \"w\": data_offsets: end 8 is beyond the data section of 4 bytes"));
    REQUIRE_THROWS_WITH(
        decode_safetensors(
            raw(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}})", 4), "o"),
        Contains("is beyond the data section"));
}

TEST_CASE("safetensors: rejects data_offsets whose size differs from dtype times shape", "[safetensors]") {
    REQUIRE_THROWS_WITH(
        decode_safetensors(raw(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20), "o"),
        Contains("tensor \"w\": data_offsets: expected 24 bytes for F32 [2, 3], found 20 bytes [0, 20]"));
    REQUIRE_THROWS_WITH(
        decode_safetensors(raw(R"({"w":{"dtype":"I64","shape":[],"data_offsets":[0,4]}})", 4), "o"),
        Contains("expected 8 bytes for I64 [], found 4 bytes"));
}

TEST_CASE("safetensors: rejects a header whose data offsets overlap", "[safetensors]") {
    const std::string h =
        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
    REQUIRE_THROWS_WITH(decode_safetensors(raw(h, 12), "ov.safetensors"),
                        Contains("ov.safetensors") &&
                            Contains("tensor \"b\": data_offsets [4, 12] overlap") &&
                            Contains("tensor \"a\", which ends at 8"));
    const std::string same =
        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    REQUIRE_THROWS_WITH(decode_safetensors(raw(same, 4), "ov"), Contains("overlap"));
}

TEST_CASE("safetensors: rejects a gap between tensors", "[safetensors]") {
    const std::string h =
        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
    REQUIRE_THROWS_WITH(decode_safetensors(raw(h, 12), "gap"),
                        Contains("tensor \"b\": data_offsets: expected begin 4") &&
                            Contains("bytes [4, 8) belong to no tensor"));
    const std::string late = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
    REQUIRE_THROWS_WITH(decode_safetensors(raw(late, 8), "gap"), Contains("expected begin 0"));
}

TEST_CASE("safetensors: rejects data bytes after the last tensor", "[safetensors]") {
    const std::string h = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    REQUIRE_THROWS_WITH(
        decode_safetensors(raw(h, 7), "tail.safetensors"),
        Contains("tail.safetensors") && Contains("data section is 7 bytes") && Contains("3 trailing bytes"));
    REQUIRE_THROWS_WITH(decode_safetensors(raw("{}", 1), "tail"), Contains("1 trailing bytes"));
    auto bytes = encode_safetensors(sample());
    bytes.push_back(0);
    REQUIRE_THROWS_WITH(decode_safetensors(bytes, "tail"), Contains("1 trailing bytes"));
}

TEST_CASE("safetensors: typed access rejects the wrong dtype or shape", "[safetensors]") {
    const float x[2] = {1, 2};
    const Tensor f = make_f32("w", {2}, x);
    const Tensor i = make_i64_scalar("step", 7);
    REQUIRE_THROWS_WITH(f.i64_scalar(), Contains("tensor \"w\": expected dtype I64, found F32"));
    REQUIRE_THROWS_WITH(i.f32(), Contains("tensor \"step\": expected dtype F32, found I64"));
    Tensor vec = i;
    vec.shape = {1};
    REQUIRE_THROWS_WITH(vec.i64_scalar(), Contains("expected a scalar (shape []), found shape [1]"));
    Tensor short_f = f;
    short_f.bytes.pop_back();
    REQUIRE_THROWS_WITH(short_f.f32(), Contains("expected 8 bytes for F32 [2], found 7"));
    REQUIRE_THROWS_AS(f.i64_scalar(), CheckpointError);
}

TEST_CASE("safetensors: the encoder refuses tensors it could not write correctly", "[safetensors]") {
    const float x[2] = {1, 2};
    TensorFile dup;
    dup.tensors = {make_f32("w", {2}, x), make_f32("w", {2}, x)};
    REQUIRE_THROWS_WITH(encode_safetensors(dup), Contains("tensor \"w\" appears twice"));
    TensorFile meta;
    meta.tensors = {make_f32("__metadata__", {2}, x)};
    REQUIRE_THROWS_WITH(encode_safetensors(meta), Contains("\"__metadata__\""));
    TensorFile wrong;
    wrong.tensors = {make_f32("w", {2}, x)};
    wrong.tensors[0].shape = {3};
    REQUIRE_THROWS_WITH(encode_safetensors(wrong),
                        Contains("expected 3 elements of F32 for shape [3], found 8 bytes"));
    TensorFile f16;
    f16.tensors = {make_f32("h", {2}, x)};
    f16.tensors[0].dtype = "F16";
    REQUIRE_THROWS_WITH(encode_safetensors(f16), Contains("expected dtype F32 or I64, found F16"));
}

// Found by fuzz/fuzz_safetensors (and by hand, as issue 12 reports): nesting deep enough made the
// JSON reader and printer recurse until the stack ran out, a segmentation fault in every program.
TEST_CASE("safetensors: a header nested a million levels deep is refused without recursing", "[safetensors]") {
    const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
    for (const std::string& header : {deep, "{\"w\":" + deep + "}", "{\"__metadata__\":{\"a\":" + deep + "}}",
                                      "{\"w\":{\"dtype\":\"F32\",\"shape\":" + deep + "}}"}) {
        REQUIRE_THROWS_AS(decode_safetensors(raw(header, 0), "deep.safetensors"), CheckpointError);
        REQUIRE_THROWS_WITH(decode_safetensors(raw(header, 0), "deep.safetensors"),
                            Contains("deep.safetensors") && Contains("nested deeper than 64 levels"));
    }
    // Brackets inside strings are text, not nesting.
    const std::string name = std::string(1000, '[');
    REQUIRE_THROWS_WITH(decode_safetensors(raw("{\"" + name + "\":5}", 0), "s"), Contains("expected an object"));
}

TEST_CASE("safetensors: names and keys from the file are quoted as a short escaped excerpt", "[safetensors]") {
    // A terminal escape (written \u001b in the JSON), then 100 kB.
    const std::string name = "\\u001b[2J" + std::string(100000, 'n');
    for (const std::string& header : {"{\"" + name + "\":5}", "{\"__metadata__\":{\"" + name + "\":1}}"}) {
        try {
            decode_safetensors(raw(header, 0), "long.safetensors");
            FAIL("no error");
        } catch (const CheckpointError& e) {
            const std::string m = e.what();
            CHECK(m.size() < 300);
            CHECK(m.find('\x1b') == std::string::npos);
            CHECK_THAT(m, Contains("\\x1b[2Jnnn") && Contains("(100004 bytes)"));
        }
    }
}

TEST_CASE("safetensors: a JSON error message quotes at most a short excerpt of a long token", "[safetensors]") {
    // nlohmann's message repeats the whole token read so far: here a 1 MB string cut by a control byte.
    const std::string header = "{\"a\":\"" + std::string(1000000, 'x') + "\x01\"}";
    try {
        decode_safetensors(raw(header, 0), "tok.safetensors");
        FAIL("no error");
    } catch (const CheckpointError& e) {
        CHECK(std::string(e.what()).size() < 400);
        CHECK_THAT(e.what(), Contains("tok.safetensors") && Contains("not valid UTF-8 JSON"));
    }
}
