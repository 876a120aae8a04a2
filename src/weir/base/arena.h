// Bump allocator for short-lived bytes that die together (a batch's strings, a query's rows).
//
//   Arena arena;
//   std::string_view s = arena.Copy("hello");
//   arena.Reset();  // keeps the first block for reuse
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace weir {

/// Hands out memory from large blocks; nothing is freed until Reset() or destruction.
class Arena {
 public:
  explicit Arena(size_t block_size = 64 * 1024) : block_size_(block_size) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  Arena(Arena&&) = default;
  Arena& operator=(Arena&&) = default;

  void* Allocate(size_t n, size_t align = alignof(std::max_align_t)) {
    size_t p = (pos_ + align - 1) & ~(align - 1);
    if (blocks_.empty() || p + n > cap_) {
      NewBlock(n + align);
      p = (pos_ + align - 1) & ~(align - 1);
    }
    pos_ = p + n;
    return blocks_[current_].get() + p;
  }

  char* AllocateChars(size_t n) { return static_cast<char*>(Allocate(n, 1)); }

  std::string_view Copy(std::string_view s) {
    if (s.empty()) return {};
    char* p = AllocateChars(s.size());
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }

  /// Forgets everything allocated; keeps the blocks for reuse.
  void Reset() {
    current_ = 0;
    pos_ = 0;
    cap_ = blocks_.empty() ? 0 : sizes_[0];
  }

  size_t BytesReserved() const {
    size_t n = 0;
    for (size_t s : sizes_) n += s;
    return n;
  }

 private:
  void NewBlock(size_t min) {
    // Reuse a later block kept by Reset() when it is large enough.
    while (current_ + 1 < blocks_.size()) {
      ++current_;
      if (sizes_[current_] >= min) {
        pos_ = 0;
        cap_ = sizes_[current_];
        return;
      }
    }
    size_t size = std::max(block_size_, min);
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    sizes_.push_back(size);
    current_ = blocks_.size() - 1;
    pos_ = 0;
    cap_ = size;
  }

  size_t block_size_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<size_t> sizes_;
  size_t current_ = 0;
  size_t pos_ = 0;
  size_t cap_ = 0;
};

}  // namespace weir
