#pragma once
// RAII over HDF5 identifiers, and errors that carry HDF5's own innermost message.
#include <hdf5.h>

#include <mutex>
#include <string>
#include <type_traits>
#include <utility>

namespace mpimerge::storage::hdf5 {

// Turns off HDF5's printing of error stacks (we throw instead); call before any HDF5 call.
void silence_hdf5_errors();

// HDF5 as packaged for MPI is not built thread-safe. Rank 0 creates an output's datasets on a
// thread of its own while the merge reads and computes (writer.cpp): every HDF5 call that may run
// meanwhile (that thread's, reading inputs, the checksums) holds this lock.
std::mutex& hdf5_library_lock();

// The innermost message on HDF5's current error stack, or "" when there is none.
std::string hdf5_error_detail();

// Throws Error("<what>: <HDF5 detail>") when status is negative.
void check(herr_t status, const std::string& what);

// The same, the message made only on failure: for calls made once per object of a file of 100k.
template <class What>
  requires std::is_invocable_r_v<std::string, What>
void check(herr_t status, What&& what) {
  if (status < 0) check(status, what());
}

template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, const std::string& what) : id_(id) {
    if (id_ < 0) check(-1, what);
  }
  template <class What>
    requires std::is_invocable_r_v<std::string, What>
  Handle(hid_t id, What&& what) : id_(id) {
    if (id_ < 0) check(-1, what());
  }
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  // Closes now and reports failure (a destructor cannot): use where the close writes data.
  void close(const std::string& what) {
    const hid_t id = std::exchange(id_, H5I_INVALID_HID);
    if (id >= 0) check(Close(id), what);
  }
  void reset() {
    if (id_ >= 0) Close(std::exchange(id_, H5I_INVALID_HID));
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using FileHandle = Handle<H5Fclose>;
using DatasetHandle = Handle<H5Dclose>;
using SpaceHandle = Handle<H5Sclose>;
using TypeHandle = Handle<H5Tclose>;
using PropertyList = Handle<H5Pclose>;
using AttributeHandle = Handle<H5Aclose>;
using ObjectHandle = Handle<H5Oclose>;  // any object H5Oopen opens

}  // namespace mpimerge::storage::hdf5
