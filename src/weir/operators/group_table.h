// Interned group keys: each distinct tuple of group-by values gets a small integer id.
//
// Keys are kept in their order-preserving byte encoding (model/key_codec.h). Ids are reference
// counted by the window panes that hold state for them, and recycled when no pane does, so a
// high-cardinality key (user_id) does not grow memory forever.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "weir/model/small_key.h"

namespace weir::operators {

/// Group key bytes <-> dense ids, with reference counts. Keys of up to 15 bytes (one currency,
/// one product id) are looked up as a SmallKey, longer ones as strings.
class GroupTable {
 public:
  /// Returns the id of `key`, creating it (with zero references) if new.
  uint32_t Intern(std::string_view key) {
    if (key.size() <= SmallKey::kMax) {
      auto [it, inserted] = small_.try_emplace(SmallKey::Of(key), 0);
      if (inserted) it->second = NewId(key);
      return it->second;
    }
    auto it = large_.find(absl::string_view(key.data(), key.size()));
    if (it != large_.end()) return it->second;
    uint32_t id = NewId(key);
    large_.emplace(keys_[id], id);
    return id;
  }
  /// Starts bringing `key`'s slot into cache, for an Intern soon after.
  void Prefetch(std::string_view key) const {
    if (key.size() <= SmallKey::kMax) small_.prefetch(SmallKey::Of(key));
  }
  const std::string& key(uint32_t id) const { return keys_[id]; }
  /// Every id is below this.
  uint32_t id_limit() const { return static_cast<uint32_t>(keys_.size()); }
  void Ref(uint32_t id) { ++refs_[id]; }
  /// Drops a reference; forgets the key when none is left.
  void Unref(uint32_t id) {
    if (--refs_[id] == 0) {
      const std::string& k = keys_[id];
      if (k.size() <= SmallKey::kMax) small_.erase(SmallKey::Of(k));
      else large_.erase(absl::string_view(k.data(), k.size()));
      keys_[id].clear();
      keys_[id].shrink_to_fit();
      free_.push_back(id);
    }
  }
  size_t size() const { return small_.size() + large_.size(); }
  size_t memory_bytes() const {
    size_t n = small_.capacity() * (sizeof(SmallKey) + 8) + large_.capacity() * (sizeof(std::string) + 8) +
               keys_.capacity() * sizeof(std::string);
    for (const auto& k : keys_) n += k.capacity() > 15 ? k.capacity() : 0;
    return n;
  }

 private:
  uint32_t NewId(std::string_view key) {
    uint32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
      keys_[id].assign(key);
      refs_[id] = 0;
    } else {
      id = static_cast<uint32_t>(keys_.size());
      keys_.emplace_back(key);
      refs_.push_back(0);
    }
    return id;
  }

  absl::flat_hash_map<SmallKey, uint32_t> small_;
  absl::flat_hash_map<std::string, uint32_t> large_;
  std::vector<std::string> keys_;
  std::vector<uint32_t> refs_;
  std::vector<uint32_t> free_;
};

}  // namespace weir::operators
