#pragma once
// Numbers as the progress lines, reports and error messages print them.
#include <cstdint>
#include <string>

namespace mpimerge {

std::string format_bytes(std::uint64_t bytes);                 // "1.23 GB", decimal units
std::string format_seconds(double seconds);                    // "0.123 s"
std::string format_rate(std::uint64_t bytes, double seconds);  // "2.31 GB/s"
std::string format_number(double value);                       // shortest round-trip form: "0.2"

// A name or text from a file, for a one-line error message: control characters (a newline, a NUL)
// and backslashes as \xHH, everything else as it is, and a text longer than limit bytes cut with
// "...", so that a crafted name cannot break or flood the line.
std::string printable(const std::string& text, std::size_t limit = 200);

}  // namespace mpimerge
