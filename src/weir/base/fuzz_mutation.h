// Deterministic mutations of fuzz seeds, for the tests that run a libFuzzer entry point over a
// corpus and its mutations on every test run (no libFuzzer needed).
//
//   std::mt19937_64 rng(1);
//   std::string broken = weir::testing::Mutate(seed, rng, "{}[]\":,");
#pragma once

#include <algorithm>
#include <random>
#include <string>
#include <string_view>

namespace weir::testing {

/// `s` with one to four random edits: a byte of `alphabet` inserted, a run of up to 8 bytes
/// erased, a byte overwritten with any value, a bit flipped, a short span duplicated, or the
/// tail cut off.
inline std::string Mutate(std::string s, std::mt19937_64& rng, std::string_view alphabet) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    const bool inside = pos < s.size();
    switch (rng() % 6) {
      case 0: s.insert(pos, 1, alphabet.empty() ? static_cast<char>(rng()) : alphabet[rng() % alphabet.size()]); break;
      case 1: if (inside) s.erase(pos, 1 + rng() % 8); break;
      case 2: if (inside) s[pos] = static_cast<char>(rng() % 256); break;
      case 3: if (inside) s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8))); break;
      case 4: s.insert(pos, s.substr(pos, std::min<size_t>(s.size() - pos, 1 + rng() % 16))); break;
      case 5: s.resize(pos); break;
    }
  }
  return s;
}

}  // namespace weir::testing
