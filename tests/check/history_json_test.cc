#include "check/history_json.h"

#include <gtest/gtest.h>

#include <sstream>

#include "check/test_support.h"

namespace raftkv::lincheck {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the builders read as a DSL.

Result<HistoryFile> read(const std::string& text) {
  std::istringstream in(text);
  return read_history_jsonl(in);
}

// The error message for `text`, which must fail to read.
std::string error_of(const std::string& text) {
  Result<HistoryFile> file = read(text);
  EXPECT_FALSE(file.is_ok()) << text;
  if (file.is_ok()) return "";
  EXPECT_EQ(file.status().code(), ErrorCode::InvalidArgument);
  return file.status().message();
}

TEST(HistoryJson, ReadsEveryFieldOfTheFormat) {
  const std::string text =
      R"({"id":1,"client":3,"f":"set","args":["k","v"],"invoke":100,"return":150,)"
      R"("status":"ok","result":"OK"})"
      "\n"
      R"({"id":2,"client":4,"f":"get","args":["k"],"invoke":120,"return":null,)"
      R"("status":"unknown"})"
      "\n\n"
      R"({"id":3,"client":5,"f":"txn","args":[["incrby","n","-2"],["mget","a","b"]],)"
      R"("invoke":1,"return":9,"status":"ok","result":[-2,["x",null]],"note":"ignored"})"
      "\n"
      R"({"id":4,"client":6,"f":"append","args":["l","c6-1;"],"invoke":5,"return":7,)"
      R"("status":"fail"})"
      "\n"
      R"({"final":{"l":"c1-1;","gone":null},"node":2})"
      "\n";
  Result<HistoryFile> file = read(text);
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  const std::vector<Operation>& ops = file.value().history.operations;
  ASSERT_EQ(ops.size(), 4u);
  EXPECT_EQ(ops[0].id, 1);
  EXPECT_EQ(ops[0].client, 3);
  EXPECT_EQ(ops[0].command, set("k", "v"));
  EXPECT_EQ(ops[0].invoke_us, 100);
  EXPECT_EQ(ops[0].return_us, 150);
  EXPECT_EQ(ops[0].outcome, Outcome::Ok);
  EXPECT_EQ(ops[0].result, ok_reply());
  EXPECT_EQ(ops[1].outcome, Outcome::Unknown);
  EXPECT_FALSE(ops[1].return_us.has_value());
  EXPECT_EQ(ops[2].command, txn({incrby("n", -2), mget({"a", "b"})}));
  EXPECT_EQ(ops[2].result, list({num(-2), list({str("x"), nil()})}));
  EXPECT_EQ(ops[3].outcome, Outcome::Fail);
  ASSERT_EQ(file.value().finals.size(), 1u);
  EXPECT_EQ(file.value().finals[0].node, 2);
  EXPECT_EQ(file.value().finals[0].values,
            (FinalValues{{"l", "c1-1;"}, {"gone", std::nullopt}}));
}

// A line with the given fields around a fixed id 2 and client 1.
std::string op_line(const std::string& fields) { return R"({"id":2,"client":1,)" + fields + "}"; }

TEST(HistoryJson, MalformedLines_NameTheLineAndTheProblem) {
  const std::string good =
      R"({"id":1,"client":1,"f":"get","args":["k"],"invoke":1,"return":2,"status":"ok",)"
      R"("result":null})"
      "\n";
  const std::string get_ok = R"("f":"get","args":["k"],"invoke":1,"return":2,"status":"ok")";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"id\":2,", "line 2: not valid JSON"},
      {"[1,2]", "line 2: expected a JSON object"},
      {R"({"client":1,)" + get_ok + "}", "line 2: missing \"id\""},
      {R"({"id":2,"client":"1",)" + get_ok + "}",
       "line 2: \"client\" must be a 64-bit integer"},
      {op_line(R"("f":"hget","args":["k"],"invoke":1,"return":2,"status":"ok")"),
       "line 2: unknown command \"hget\""},
      {op_line(R"("f":"get","args":["k",1],"invoke":1,"return":2,"status":"ok")"),
       "line 2: get arguments must be strings"},
      {op_line(R"("f":"get","args":["k","j"],"invoke":1,"return":2,"status":"ok",)"
               R"("result":null)"),
       "line 2: get takes 1 argument(s), got 2"},
      {op_line(R"("f":"get","args":["k"],"invoke":1,"return":2,"status":"done")"),
       "line 2: status must be \"ok\", \"fail\" or \"unknown\""},
      {op_line(R"("f":"set","args":["k","v"],"invoke":1,"status":"unknown","return":5)"),
       "line 2: status unknown must have no return time"},
      {op_line(R"("f":"set","args":["k","v"],"invoke":9,"return":5,"status":"ok",)"
               R"("result":"OK")"),
       "line 2: return 5 is before invoke 9"},
      {op_line(R"("f":"set","args":["k","v"],"invoke":1,"return":2,"status":"fail",)"
               R"("result":"OK")"),
       "line 2: only an ok operation has a result"},
      {op_line(R"("f":"set","args":["k","v"],"invoke":1,"return":2,"status":"ok")"),
       "line 2: an ok operation needs a \"result\""},
      {op_line(R"("f":"incr","args":["k"],"invoke":1,"return":2,"status":"ok","result":1.5)"),
       "line 2: a result must be a string, null, an integer or a list"},
      {op_line(R"("f":"mget","args":["a","b"],"invoke":1,"return":2,"status":"ok",)"
               R"("result":["x"])"),
       "line 2: mget result must be a list of 2 strings-or-null"},
      {op_line(R"("f":"txn","args":[["txn"]],"invoke":1,"return":2,"status":"fail")"),
       "line 2: txn step 0: a txn cannot contain a txn"},
      {op_line(R"("f":"incrby","args":["k","1.5"],"invoke":1,"return":2,"status":"fail")"),
       "line 2: incrby delta \"1.5\" is not a 64-bit integer"},
      {R"({"id":1,"client":1,"f":"get","args":["k"],"invoke":1,"return":2,"status":"fail"})",
       "line 2: id 1 already used on line 1"},
      {R"({"final":{"k":1},"node":1})", "line 2: final value of \"k\" must be a string or null"},
      {R"({"final":{"k":"v"}})", "line 2: missing \"node\""},
  };
  for (const auto& [line, expected] : cases) {
    const std::string message = error_of(good + line + "\n");
    EXPECT_EQ(message.rfind(expected, 0), 0u) << "got: " << message << "\nfor: " << line;
  }
}

TEST(HistoryJson, ReadFile_NamesThePath) {
  Result<HistoryFile> missing = read_history_file("/nonexistent/history.jsonl");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::IoError);
  EXPECT_NE(missing.status().message().find("/nonexistent/history.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace raftkv::lincheck
