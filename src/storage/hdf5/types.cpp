#include "storage/hdf5/types.hpp"

#include "mpimerge/error.hpp"

namespace mpimerge::storage::hdf5 {
namespace {

struct FloatFields {
  std::size_t sign, exponent_pos, exponent_size, mantissa_pos, mantissa_size, bias;
};
constexpr FloatFields kBFloat16{15, 7, 8, 0, 7, 127};
constexpr FloatFields kFloat16{15, 10, 5, 0, 10, 15};
// The two 8-bit floats of Micikevicius et al., "FP8 formats for deep learning" (2022), as
// safetensors names them. HDF5 reads them with IEEE rules (E4M3's 0x7F is NaN there as in the
// paper, but E4M3 has no infinity); mpimerge never converts them, it copies their bits.
constexpr FloatFields kFloat8E4M3{7, 3, 4, 0, 3, 7};
constexpr FloatFields kFloat8E5M2{7, 2, 5, 0, 2, 15};

TypeHandle custom_float(const FloatFields& f, std::size_t size) {
  TypeHandle t(H5Tcopy(H5T_IEEE_F32LE), "H5Tcopy");
  // Shrink the fields before the size, as HDF5 requires that they fit at every step.
  check(H5Tset_fields(t.get(), f.sign, f.exponent_pos, f.exponent_size, f.mantissa_pos, f.mantissa_size),
        "H5Tset_fields");
  check(H5Tset_size(t.get(), size), "H5Tset_size");
  check(H5Tset_ebias(t.get(), f.bias), "H5Tset_ebias");
  return t;
}

// Every bit of the element is the number's: no padding bits, no offset (HDF5 types can leave
// bits of an element unused, which reading the raw bytes would take for the number's own).
bool uses_every_bit(hid_t type, std::size_t size) {
  const std::size_t precision = H5Tget_precision(type);
  const int offset = H5Tget_offset(type);
  return precision == size * 8 && offset == 0;
}

std::optional<DType> float_dtype(hid_t type, std::size_t size, std::string& unsupported) {
  size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  check(H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize), "H5Tget_fields");
  const size_t bias = H5Tget_ebias(type);
  auto is = [&](std::size_t s, const FloatFields& f) {
    return size == s && spos == f.sign && epos == f.exponent_pos && esize == f.exponent_size &&
           mpos == f.mantissa_pos && msize == f.mantissa_size && bias == f.bias;
  };
  if (uses_every_bit(type, size) && H5Tget_norm(type) == H5T_NORM_IMPLIED) {
    if (is(4, {31, 23, 8, 0, 23, 127})) return DType::f32;
    if (is(8, {63, 52, 11, 0, 52, 1023})) return DType::f64;
    if (is(2, kBFloat16)) return DType::bf16;
    if (is(2, kFloat16)) return DType::f16;
    if (is(1, kFloat8E4M3)) return DType::f8_e4m3;
    if (is(1, kFloat8E5M2)) return DType::f8_e5m2;
  }
  unsupported = std::to_string(size * 8) + "-bit float with " + std::to_string(esize) + " exponent and " +
                std::to_string(msize) + " mantissa bits (precision " + std::to_string(H5Tget_precision(type)) +
                ", bias " + std::to_string(bias) + ")";
  return std::nullopt;
}

std::optional<DType> integer_dtype(hid_t type, std::size_t size, std::string& unsupported) {
  const H5T_sign_t sign = H5Tget_sign(type);
  if (!uses_every_bit(type, size) || sign < 0) {
    unsupported = std::to_string(H5Tget_precision(type)) + "-bit integer in " + std::to_string(size * 8) + " bits";
    return std::nullopt;
  }
  const bool is_signed = sign == H5T_SGN_2;
  switch (size) {
    case 1: return is_signed ? DType::i8 : DType::u8;
    case 2: return is_signed ? DType::i16 : DType::u16;
    case 4: return is_signed ? DType::i32 : DType::u32;
    case 8: return is_signed ? DType::i64 : DType::u64;
    default: unsupported = std::to_string(size * 8) + "-bit integer"; return std::nullopt;
  }
}

// numpy/h5py store bool as an enum over int8 with FALSE = 0 and TRUE = 1 (any member names).
bool is_boolean_enum(hid_t type, std::size_t size) {
  if (size != 1 || H5Tget_nmembers(type) != 2) return false;
  TypeHandle base(H5Tget_super(type), "H5Tget_super");
  if (H5Tget_class(base.get()) != H5T_INTEGER || H5Tget_size(base.get()) != 1) return false;
  std::uint8_t values[2] = {2, 2};
  for (unsigned i = 0; i < 2; ++i)
    if (H5Tget_member_value(type, i, &values[i]) < 0) return false;
  return (values[0] == 0 && values[1] == 1) || (values[0] == 1 && values[1] == 0);
}

std::string class_name(H5T_class_t type_class) {
  switch (type_class) {
    case H5T_TIME: return "time";
    case H5T_STRING: return "string";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "variable-length";
    case H5T_ARRAY: return "array";
    default: return "class " + std::to_string(static_cast<int>(type_class));
  }
}

}  // namespace

std::optional<DType> dtype_of(hid_t type, std::string& unsupported) {
  const H5T_class_t type_class = H5Tget_class(type);
  const std::size_t size = H5Tget_size(type);
  switch (type_class) {
    case H5T_FLOAT: return float_dtype(type, size, unsupported);
    case H5T_INTEGER: return integer_dtype(type, size, unsupported);
    case H5T_ENUM:
      if (is_boolean_enum(type, size)) return DType::boolean;
      unsupported = "enum other than numpy's bool (two members, 0 and 1, over 8-bit integers)";
      return std::nullopt;
    default:
      unsupported = "non-numeric type (" + class_name(type_class) + ")";
      return std::nullopt;
  }
}

TypeHandle hdf5_type_for(DType dtype) {
  switch (dtype) {
    case DType::f32: return TypeHandle(H5Tcopy(H5T_IEEE_F32LE), "H5Tcopy");
    case DType::f64: return TypeHandle(H5Tcopy(H5T_IEEE_F64LE), "H5Tcopy");
    case DType::bf16: return custom_float(kBFloat16, 2);
    case DType::f16: return custom_float(kFloat16, 2);
    case DType::f8_e4m3: return custom_float(kFloat8E4M3, 1);
    case DType::f8_e5m2: return custom_float(kFloat8E5M2, 1);
    case DType::i8: return TypeHandle(H5Tcopy(H5T_STD_I8LE), "H5Tcopy");
    case DType::i16: return TypeHandle(H5Tcopy(H5T_STD_I16LE), "H5Tcopy");
    case DType::i32: return TypeHandle(H5Tcopy(H5T_STD_I32LE), "H5Tcopy");
    case DType::i64: return TypeHandle(H5Tcopy(H5T_STD_I64LE), "H5Tcopy");
    case DType::u8: return TypeHandle(H5Tcopy(H5T_STD_U8LE), "H5Tcopy");
    case DType::u16: return TypeHandle(H5Tcopy(H5T_STD_U16LE), "H5Tcopy");
    case DType::u32: return TypeHandle(H5Tcopy(H5T_STD_U32LE), "H5Tcopy");
    case DType::u64: return TypeHandle(H5Tcopy(H5T_STD_U64LE), "H5Tcopy");
    case DType::boolean: {
      TypeHandle t(H5Tenum_create(H5T_NATIVE_INT8), "H5Tenum_create");
      const std::int8_t no = 0, yes = 1;
      check(H5Tenum_insert(t.get(), "FALSE", &no), "H5Tenum_insert");
      check(H5Tenum_insert(t.get(), "TRUE", &yes), "H5Tenum_insert");
      return t;
    }
  }
  throw InputError("HDF5 checkpoints cannot hold " + std::string(dtype_name(dtype)) + " tensors");
}

}  // namespace mpimerge::storage::hdf5
