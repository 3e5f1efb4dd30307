// The key space's hash trie (kv/hash_trie.h) against a sorted model, with real hashes and with
// tags that collide on purpose (so buckets, deep pairs and their collapse are exercised).
#include "kv/hash_trie.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kv/tag_order.h"

namespace raftkv::kv {
namespace {

// Real hashes: XXH3 of the key, as the key space uses.
struct RealTags {
  static uint64_t of(const std::string& key) { return HashOrder::order_tag(key); }
};
// Three tags only, sharing their low bits: every key shares its whole tag with a third of
// the others, so items meet in buckets 13 levels down.
struct CollidingTags {
  static uint64_t of(const std::string& key) {
    return (HashOrder::order_tag(key) % 3) << 62 | 0x5555;
  }
};

template <typename Tags>
struct TestItem : RefCounted {
  using Key = std::string;
  TestItem(std::string key_in, int value_in) : key_(std::move(key_in)), value(value_in) {}
  [[nodiscard]] const std::string& key() const { return key_; }
  static uint64_t order_tag(const std::string& key) { return Tags::of(key); }
  std::string key_;
  int value;
};

template <typename Tags>
class HashTrieTest : public ::testing::Test {
 protected:
  using Item = TestItem<Tags>;
  using Trie = PersistentHashTrie<Item>;
  using Model = std::map<std::string, int>;

  static Ref<const Item> item(const std::string& key, int value) {
    return Ref<const Item>(new Item(key, value));
  }

  // The model's keys in the trie's order.
  static std::vector<std::pair<std::string, int>> ordered(const Model& model) {
    std::vector<std::pair<std::string, int>> out(model.begin(), model.end());
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return Trie::precedes(a.first, b.first); });
    return out;
  }

  static std::vector<std::pair<std::string, int>> contents(const Trie& trie) {
    std::vector<std::pair<std::string, int>> out;
    trie.for_each([&](const std::string& key, const Item& item) {
      out.emplace_back(key, item.value);
    });
    return out;
  }
};

using TagKinds = ::testing::Types<RealTags, CollidingTags>;
TYPED_TEST_SUITE(HashTrieTest, TagKinds);

// prefetch() over present and absent keys, on an empty trie, a small one and one whose paths
// run down to buckets, changes nothing (and, under ASan, reads only the trie's own memory).
TYPED_TEST(HashTrieTest, Prefetch_ChangesNothing) {
  typename TestFixture::Trie trie;
  std::vector<uint64_t> tags;
  for (int i = 0; i < 40; ++i) {
    tags.push_back(TestFixture::Item::order_tag("key:" + std::to_string(i)));
  }
  trie.prefetch(tags);
  EXPECT_TRUE(trie.empty());
  typename TestFixture::Model model;
  for (int step = 0; step < 500; ++step) {
    const std::string key = "key:" + std::to_string(step * 7 % 60);  // Keys 40-59 never hinted.
    trie.insert_or_assign(TestFixture::item(key, step));
    model[key] = step;
    const typename TestFixture::Trie copy = trie;  // A shared version, as a snapshot holds.
    trie.prefetch(tags);
    ASSERT_TRUE(trie.check_invariants()) << step;
    ASSERT_EQ(TestFixture::contents(trie), TestFixture::ordered(model)) << step;
    ASSERT_EQ(TestFixture::contents(copy), TestFixture::ordered(model)) << step;
  }
}

// Inserts, replaces and erases at random; copies taken along the way keep what they had.
TYPED_TEST(HashTrieTest, RandomOperations_MatchModelAndCopiesStay) {
  std::mt19937 random(5);
  typename TestFixture::Trie trie;
  typename TestFixture::Model model;
  std::vector<std::pair<typename TestFixture::Trie, typename TestFixture::Model>> copies;
  for (int step = 0; step < 20'000; ++step) {
    const std::string key = "key:" + std::to_string(random() % 700);
    if (random() % 3 == 0) {
      ASSERT_EQ(trie.erase(key), model.erase(key) == 1) << key;
    } else {
      trie.insert_or_assign(TestFixture::item(key, step));
      model[key] = step;
    }
    ASSERT_EQ(trie.size(), model.size());
    if (step % 1'000 == 0) {
      ASSERT_TRUE(trie.check_invariants()) << step;
      copies.emplace_back(trie, model);
    }
  }
  ASSERT_TRUE(trie.check_invariants());
  EXPECT_EQ(TestFixture::contents(trie), TestFixture::ordered(model));
  for (int i = 0; i < 700; ++i) {
    const std::string key = "key:" + std::to_string(i);
    const auto* found = trie.find(key);
    ASSERT_EQ(found != nullptr, model.count(key) == 1) << key;
    if (found != nullptr) {
      EXPECT_EQ(found->value, model[key]);
    }
  }
  for (const auto& [copy, expected] : copies) {
    EXPECT_TRUE(copy.check_invariants());
    EXPECT_EQ(TestFixture::contents(copy), TestFixture::ordered(expected));
  }
  // Erasing everything leaves an empty, valid trie.
  for (const auto& [key, value] : model) ASSERT_TRUE(trie.erase(key));
  EXPECT_TRUE(trie.empty());
  EXPECT_TRUE(trie.check_invariants());
  EXPECT_FALSE(trie.erase("key:1"));
}

// A walk from any tag yields exactly the items with tags from it on, in order; nth agrees.
TYPED_TEST(HashTrieTest, ForEachFromAndNth_FollowTheOrder) {
  typename TestFixture::Model model;
  std::vector<Ref<const typename TestFixture::Item>> items;
  for (int i = 0; i < 2'000; ++i) model["k" + std::to_string(i)] = i;
  const auto ordered = TestFixture::ordered(model);
  for (const auto& [key, value] : ordered) items.push_back(TestFixture::item(key, value));
  const auto trie = TestFixture::Trie::from_sorted(std::move(items));
  ASSERT_TRUE(trie.check_invariants());
  ASSERT_EQ(trie.size(), ordered.size());
  for (size_t rank = 0; rank < ordered.size(); rank += 37) {
    EXPECT_EQ(trie.nth(rank).key(), ordered[rank].first) << rank;
  }
  std::mt19937_64 random(9);
  for (int round = 0; round < 50; ++round) {
    const uint64_t from = round % 5 == 0
                              ? TestFixture::Item::order_tag(ordered[random() % 2'000].first)
                              : random();
    std::vector<std::string> walked;
    trie.for_each_from(from, [&](uint64_t tag, const std::string& key, const auto&) {
      EXPECT_EQ(tag, TestFixture::Item::order_tag(key));
      walked.push_back(key);
      return true;
    });
    std::vector<std::string> expected;
    for (const auto& [key, value] : ordered) {
      if (TestFixture::Item::order_tag(key) >= from) expected.push_back(key);
    }
    EXPECT_EQ(walked, expected) << "from " << from;
  }
}

}  // namespace
}  // namespace raftkv::kv
