#include "kv/persistent_map.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace raftkv::kv {
namespace {

using Map = PersistentMap<int, std::string>;

std::map<int, std::string> contents(const Map& map) {
  std::map<int, std::string> out;
  int previous = std::numeric_limits<int>::min();
  bool first = true;
  map.for_each([&](int key, const std::string& value) {
    EXPECT_TRUE(first || previous < key);  // Ascending order.
    first = false;
    previous = key;
    out.emplace(key, value);
  });
  return out;
}

// `steps` random writes to keys below `keys`, in `map` and `model` alike: two in three insert
// or replace, one erases. Checks the size after each and the invariants every thousandth.
template <typename AnyMap>
void random_writes(AnyMap& map, std::map<int, std::string>& model, uint32_t seed, int steps,
                   int keys) {
  std::mt19937 random(seed);
  for (int step = 0; step < steps; ++step) {
    const int key = static_cast<int>(random() % static_cast<uint32_t>(keys));
    if (random() % 3 == 0) {
      EXPECT_EQ(map.erase(key), model.erase(key) == 1);
    } else {
      map.insert_or_assign(key, std::to_string(step));
      model[key] = std::to_string(step);
    }
    ASSERT_EQ(map.size(), model.size());
    if (step % 1000 == 0) {
      ASSERT_TRUE(map.check_invariants());
    }
  }
}

TEST(PersistentMap, InsertErase_MatchStdMapUnderRandomOperations) {
  Map map;
  std::map<int, std::string> model;
  random_writes(map, model, 42, 20'000, 500);
  EXPECT_TRUE(map.check_invariants());
  EXPECT_EQ(contents(map), model);
  for (int key = 0; key < 500; ++key) {
    const std::string* found = map.find(key);
    ASSERT_EQ(found != nullptr, model.count(key) == 1) << key;
    if (found != nullptr) {
      EXPECT_EQ(*found, model[key]);
    }
  }
}

TEST(PersistentMap, Copy_IsUnaffectedByLaterWrites) {
  Map map;
  for (int key = 0; key < 100; ++key) map.insert_or_assign(key, "v" + std::to_string(key));
  const Map frozen = map;
  const auto before = contents(frozen);
  for (int key = 0; key < 100; key += 2) map.erase(key);
  for (int key = 100; key < 200; ++key) map.insert_or_assign(key, "new");
  map.insert_or_assign(1, "changed");
  EXPECT_EQ(contents(frozen), before);
  EXPECT_EQ(frozen.size(), 100u);
  EXPECT_EQ(*frozen.find(1), "v1");
  EXPECT_EQ(*map.find(1), "changed");
  EXPECT_TRUE(frozen.check_invariants());
  EXPECT_TRUE(map.check_invariants());
}

// Writes change unshared nodes in place; every copy taken along the way must keep exactly the
// contents it had, however the later writes interleave with taking and dropping copies.
TEST(PersistentMap, InPlaceWrites_LeaveEveryLiveCopyUnchanged) {
  std::mt19937 random(7);
  Map map;
  std::map<int, std::string> model;
  std::vector<std::pair<Map, std::map<int, std::string>>> copies;
  for (int step = 0; step < 20'000; ++step) {
    const int key = static_cast<int>(random() % 2'000);
    if (random() % 4 == 0) {
      map.erase(key);
      model.erase(key);
    } else {
      map.insert_or_assign(key, std::to_string(step));
      model[key] = std::to_string(step);
    }
    if (step % 500 == 0) copies.emplace_back(map, model);
    if (step % 1500 == 0 && copies.size() > 2) copies.erase(copies.begin() + 1);  // Drop one.
  }
  EXPECT_EQ(contents(map), model);
  EXPECT_TRUE(map.check_invariants());
  for (const auto& [copy, expected] : copies) {
    EXPECT_EQ(contents(copy), expected);
    EXPECT_TRUE(copy.check_invariants());
  }
}

TEST(PersistentMap, Insert_SequentialKeysStayBalanced) {
  Map map;
  for (int key = 0; key < 10'000; ++key) map.insert_or_assign(key, "");
  EXPECT_TRUE(map.check_invariants());
  for (int key = 0; key < 10'000; key += 3) map.erase(key);
  EXPECT_TRUE(map.check_invariants());
}

TEST(PersistentMap, FromSorted_BuildsBalancedMap) {
  std::vector<Map::Item> items;
  for (int key = 0; key < 1000; ++key) items.push_back({key * 2, std::to_string(key)});
  Map map = Map::from_sorted(std::move(items));
  EXPECT_EQ(map.size(), 1000u);
  EXPECT_TRUE(map.check_invariants());
  EXPECT_EQ(*map.find(998), "499");
  EXPECT_EQ(map.find(999), nullptr);
  map.insert_or_assign(999, "odd");
  EXPECT_TRUE(map.check_invariants());
}

// Tags that collide often (a key's tag is key % 4): equal tags fall back to the keys.
struct ModFourOrder {
  static uint64_t order_tag(int key) { return static_cast<uint64_t>(key) % 4; }
};

TEST(PersistentMap, CollidingTags_OrderByTagThenKey) {
  using Colliding = PersistentMap<int, std::string, ModFourOrder>;
  Colliding map;
  std::map<int, std::string> model;
  random_writes(map, model, 11, 5'000, 300);
  ASSERT_TRUE(map.check_invariants());
  std::vector<int> order;
  map.for_each([&](int key, const std::string& value) {
    EXPECT_EQ(value, model.at(key));
    order.push_back(key);
  });
  ASSERT_EQ(order.size(), model.size());
  for (size_t i = 1; i < order.size(); ++i) {
    EXPECT_TRUE(Colliding::precedes(order[i - 1], order[i])) << order[i - 1] << " " << order[i];
  }
  // From tag 2: the keys = 2 or 3 (mod 4), tag 2 first, each tag's keys ascending.
  std::vector<int> from_two;
  map.for_each_from(2, [&](uint64_t tag, int key, const std::string&) {
    EXPECT_EQ(tag, ModFourOrder::order_tag(key));
    from_two.push_back(key);
    return true;
  });
  std::vector<int> expected;
  for (const uint64_t tag : {2u, 3u}) {
    for (const auto& [key, value] : model) {
      if (ModFourOrder::order_tag(key) == tag) expected.push_back(key);
    }
  }
  EXPECT_EQ(from_two, expected);
}

// Hash order: every key found, and a walk from any key's tag starts at that key.
TEST(PersistentMap, HashOrder_FindsEveryKeyAndWalksFromItsTag) {
  using Hashed = PersistentMap<std::string, int, HashOrder>;
  Hashed map;
  for (int i = 0; i < 1'000; ++i) map.insert_or_assign("key:" + std::to_string(i), i);
  ASSERT_TRUE(map.check_invariants());
  for (int i = 0; i < 1'000; ++i) {
    const std::string key = "key:" + std::to_string(i);
    ASSERT_NE(map.find(key), nullptr) << key;
    EXPECT_EQ(*map.find(key), i);
    std::string first;
    map.for_each_from(HashOrder::order_tag(key), [&](uint64_t, const std::string& at, int) {
      first = at;
      return false;
    });
    EXPECT_EQ(first, key);
  }
  EXPECT_EQ(map.find("key:1000"), nullptr);
}

TEST(PersistentMap, Erase_MissingKeyKeepsMap) {
  Map map;
  map.insert_or_assign(1, "a");
  EXPECT_FALSE(map.erase(2));
  EXPECT_EQ(map.size(), 1u);
  EXPECT_TRUE(map.erase(1));
  EXPECT_TRUE(map.empty());
  EXPECT_FALSE(map.erase(1));
}

}  // namespace
}  // namespace raftkv::kv
