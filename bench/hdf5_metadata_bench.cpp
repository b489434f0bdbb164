// HDF5's per-dataset metadata work, alone (docs/performance.md, "Many tensors"): what the output's
// settings (src/storage/hdf5/structure.cpp) and a catalog's calls (src/storage/hdf5/catalog.cpp)
// cost per dataset, with serial HDF5 and nothing else running. Prints markdown tables.
//
//   hdf5_metadata_bench create N DIR   N small datasets as the output makes them, with and without
//                                      metadata blocks, checksums through open attributes or by
//                                      reopening each dataset: seconds per step, and how many
//                                      datasets' bytes do not start where the previous one's end
//   hdf5_metadata_bench catalog FILE L open + close of each dataset of FILE's root (L = 0), with
//                                      each further step the catalog takes (L = 1, 2, 3):
//                                      microseconds per dataset. One process per level, so that
//                                      none gets memory an earlier level touched:
//     for l in 0 1 2 3; do hdf5_metadata_bench catalog FILE $l; done
#include <hdf5.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The output's file access: sec2, 1 MiB alignment, a metadata cache that evicts nothing.
hid_t output_access(hsize_t meta_block) {
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_sec2(fapl);
  H5Pset_file_locking(fapl, 0, 1);
  H5Pset_alignment(fapl, 1 << 20, 1 << 20);
  H5Pset_small_data_block_size(fapl, 0);
  H5Pset_meta_block_size(fapl, meta_block);
  H5AC_cache_config_t cache{};
  cache.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  H5Pget_mdc_config(fapl, &cache);
  cache.evictions_enabled = false;
  cache.incr_mode = H5C_incr__off;
  cache.flash_incr_mode = H5C_flash_incr__off;
  cache.decr_mode = H5C_decr__off;
  H5Pset_mdc_config(fapl, &cache);
  return fapl;
}

void create(int n, const std::string& dir, hsize_t meta_block, bool held_attributes) {
  const std::string path = dir + "/bench.h5";
  const hid_t fapl = output_access(meta_block);
  const hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  H5Pset_local_heap_size_hint(fcpl, static_cast<size_t>(n) * 24 + 64);
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, fapl);
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_layout(dcpl, H5D_CONTIGUOUS);
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  H5Pset_obj_track_times(dcpl, 0);
  const hid_t scalar = H5Screate(H5S_SCALAR);
  const hid_t text = H5Tcopy(H5T_C_S1);
  H5Tset_size(text, 16);
  std::vector<haddr_t> offsets, headers;
  std::vector<hsize_t> sizes;
  std::vector<hid_t> attributes;
  auto t = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    const hsize_t dims[1] = {static_cast<hsize_t>(i % 10 == 0 ? 65536 : 64 + (i * 7919) % 4000)};
    const hid_t space = H5Screate_simple(1, dims, nullptr);
    char name[32];
    std::snprintf(name, sizeof name, "t%d", i);
    const hid_t d = H5Dcreate2(file, name, H5T_STD_U16LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    const long long position = i;
    const hid_t order = H5Acreate2(d, "mpimerge_order", H5T_STD_I64LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(order, H5T_NATIVE_LLONG, &position);
    H5Aclose(order);
    const hid_t sum = H5Acreate2(d, "mpimerge_checksum", text, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(sum, text, "0000000000000000");
    if (held_attributes) attributes.push_back(sum);
    else H5Aclose(sum);
    offsets.push_back(H5Dget_offset(d));
    sizes.push_back(H5Dget_storage_size(d));
    H5O_info_t info;
    H5Oget_info2(d, &info, H5O_INFO_BASIC);
    headers.push_back(info.addr);
    H5Dclose(d);
    H5Sclose(space);
  }
  const double made = seconds_since(t);
  t = std::chrono::steady_clock::now();
  H5Fflush(file, H5F_SCOPE_LOCAL);
  const double flushed = seconds_since(t);
  t = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    if (held_attributes) {
      H5Awrite(attributes[i], text, "0123456789abcdef");
      H5Aclose(attributes[i]);
      continue;
    }
    const hid_t d = H5Oopen_by_addr(file, headers[i]);
    const hid_t sum = H5Aopen(d, "mpimerge_checksum", H5P_DEFAULT);
    H5Awrite(sum, text, "0123456789abcdef");
    H5Aclose(sum);
    H5Oclose(d);
  }
  const double summed = seconds_since(t);
  t = std::chrono::steady_clock::now();
  H5Fclose(file);
  const double closed = seconds_since(t);
  int breaks = 0;
  for (int i = 1; i < n; ++i) breaks += offsets[i] != offsets[i - 1] + sizes[i - 1];
  std::printf("| %d | %llu | %s | %.2f | %.2f | %.2f | %.2f | %d | %.1f |\n", n,
              static_cast<unsigned long long>(meta_block), held_attributes ? "held open" : "reopened by address", made,
              flushed, summed, closed, breaks, std::filesystem::file_size(path) / 1e6);
  for (const hid_t id : {scalar, text}) H5Idec_ref(id);
  for (const hid_t p : {dcpl, fcpl, fapl}) H5Pclose(p);
  std::filesystem::remove(path);
}

herr_t collect(hid_t, const char*, const H5L_info_t* info, void* out) {
  if (info->type == H5L_TYPE_HARD) static_cast<std::vector<haddr_t>*>(out)->push_back(info->u.address);
  return 0;
}

void read_attribute(hid_t d, const char* name, hid_t memory_type, void* value) {
  if (H5Aexists(d, name) <= 0) return;
  const hid_t a = H5Aopen(d, name, H5P_DEFAULT);
  const hid_t type = H5Aget_type(a);
  H5Tget_class(type);
  const hid_t space = H5Aget_space(a);
  H5Sget_simple_extent_npoints(space);
  H5Aread(a, memory_type < 0 ? type : memory_type, value);
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(a);
}

// Each level adds what the catalog does next for every dataset.
void catalog(const std::string& path, int level) {
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_sec2(fapl);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  std::vector<haddr_t> objects;
  H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &objects);
  const auto t = std::chrono::steady_clock::now();
  for (const haddr_t address : objects) {
    const hid_t o = H5Oopen_by_addr(file, address);
    if (level >= 1) {
      const hid_t dcpl = H5Dget_create_plist(o);
      H5Pget_layout(dcpl);
      H5Pget_external_count(dcpl);
      H5Pget_nfilters(dcpl);
      H5Pclose(dcpl);
    }
    if (level >= 2) {
      const hid_t type = H5Dget_type(o);
      H5Tget_class(type);
      H5Tget_size(type);
      const hid_t space = H5Dget_space(o);
      hsize_t dims[32];
      H5Sget_simple_extent_dims(space, dims, nullptr);
      H5Sclose(space);
      H5D_space_status_t status;
      H5Dget_space_status(o, &status);
      H5Dget_offset(o);
      H5Dget_storage_size(o);
      H5Tclose(type);
    }
    if (level >= 3) {
      long long position = 0;
      read_attribute(o, "mpimerge_order", H5T_NATIVE_LLONG, &position);
    }
    H5Oclose(o);
  }
  const double loop = seconds_since(t);
  const auto c = std::chrono::steady_clock::now();
  H5Fclose(file);
  const double closed = seconds_since(c);
  static const char* what[] = {"H5Oopen_by_addr + H5Oclose", "+ creation property list, layout, filters",
                               "+ type, shape, storage", "+ the order attribute"};
  std::printf("| %s | %zu | %.1f | %.2f |\n", what[level], objects.size(), loop / objects.size() * 1e6, closed);
  H5Pclose(fapl);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "create" && argc == 4) {
    std::printf("| datasets | metadata block | checksums | create s | flush s | checksums s | close s | data breaks | file MB |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    for (const hsize_t block : {hsize_t{0}, hsize_t{512} << 10})
      for (const bool held : {false, true}) create(std::atoi(argv[2]), argv[3], block, held);
    return 0;
  }
  if (mode == "catalog" && argc == 4 && std::atoi(argv[3]) >= 0 && std::atoi(argv[3]) <= 3) {
    const int level = std::atoi(argv[3]);
    if (level == 0) std::printf("| per dataset | datasets | us per dataset | H5Fclose s |\n|---|---|---|---|\n");
    catalog(argv[2], level);
    return 0;
  }
  std::fprintf(stderr, "usage: %s create N DIR | catalog FILE.h5 LEVEL(0-3)\n", argv[0]);
  return 2;
}
