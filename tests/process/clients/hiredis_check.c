/* hiredis (Debian's libhiredis-dev), in C, against a real raftkv cluster of five nodes.
 *
 * Run by tests/process/redis_clients_test.cc:
 *   hiredis_check --node ID=HOST:PORT=PID ... --leader ID
 * Checks, printing what it measured:
 *   1. connect, pipelines, WATCH transactions (applied, and refused after a change), expiry
 *      and CLIENT, on the leader and on a follower;
 *   2. failover as a cluster-aware hiredis application does it (hiredis has no cluster
 *      client): write to the master CLUSTER SLOTS names, and when its connection drops after
 *      kill -9, ask the live nodes again and go on with the master they name.
 * Exits 0 when every check passed, 1 with the failed check otherwise. */
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NODES_MAX 9
#define TIMEOUT_S 15

struct node {
  int id;
  char host[64];
  int port;
  pid_t pid;
  int alive;
};

static struct node nodes[NODES_MAX];
static int node_count;

static void fail(const char *format, ...) {
  va_list args;
  va_start(args, format);
  printf("FAILED: ");
  vprintf(format, args);
  printf("\n");
  va_end(args);
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static redisContext *connect_to(const char *host, int port) {
  struct timeval timeout = {TIMEOUT_S, 0};
  redisContext *c = redisConnectWithTimeout(host, port, timeout);
  if (c == NULL || c->err) return NULL;
  redisSetTimeout(c, timeout);
  return c;
}

/* Runs a command; the reply, or NULL when the connection failed. */
static redisReply *run(redisContext *c, const char *format, ...) {
  va_list args;
  va_start(args, format);
  redisReply *reply = redisvCommand(c, format, args);
  va_end(args);
  return reply;
}

static void expect_status(redisContext *c, const char *status, const char *command) {
  redisReply *reply = run(c, command);
  if (reply == NULL || reply->type != REDIS_REPLY_STATUS || strcmp(reply->str, status) != 0) {
    fail("%s: expected +%s, got %s", command, status, reply && reply->str ? reply->str : "?");
  }
  freeReplyObject(reply);
}

static long long expect_integer(redisReply *reply, const char *what) {
  if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) fail("%s: not an integer", what);
  long long value = reply->integer;
  freeReplyObject(reply);
  return value;
}

static void pipeline(redisContext *c, const char *key) {
  redisAppendCommand(c, "SET %s 1", key);
  redisAppendCommand(c, "INCR %s", key);
  redisAppendCommand(c, "GET %s", key);
  void *replies[3];
  for (int i = 0; i < 3; i++) {
    if (redisGetReply(c, &replies[i]) != REDIS_OK) fail("pipeline: connection lost");
  }
  redisReply *set = replies[0], *incr = replies[1], *get = replies[2];
  if (set->type != REDIS_REPLY_STATUS || incr->integer != 2 || get->type != REDIS_REPLY_STRING ||
      strcmp(get->str, "2") != 0) {
    fail("pipeline replies");
  }
  for (int i = 0; i < 3; i++) freeReplyObject(replies[i]);
}

/* WATCH key, MULTI, SET key value, EXEC: 1 when applied, 0 when refused (nil). */
static int watched_set(redisContext *c, redisContext *other, const char *key, int touch) {
  freeReplyObject(run(c, "WATCH %s", key));
  if (touch) freeReplyObject(run(other, "INCR %s", key));
  expect_status(c, "OK", "MULTI");
  freeReplyObject(run(c, "SET %s 10", key));
  redisReply *exec = run(c, "EXEC");
  if (exec == NULL) fail("EXEC: connection lost");
  int applied = exec->type == REDIS_REPLY_ARRAY;
  if (!applied && exec->type != REDIS_REPLY_NIL) fail("EXEC: neither an array nor nil");
  freeReplyObject(exec);
  return applied;
}

static void basics(const struct node *node, const char *label, const struct node *peer) {
  redisContext *c = connect_to(node->host, node->port);
  redisContext *other = connect_to(peer->host, peer->port);
  if (c == NULL || other == NULL) fail("connect to node %d", node->id);
  char key[64];
  expect_status(c, "PONG", "PING");
  snprintf(key, sizeof(key), "hi:%s:n", label);
  pipeline(c, key);
  if (!watched_set(c, other, key, 0)) fail("WATCHed EXEC refused with no change");
  if (watched_set(c, other, key, 1)) fail("WATCHed EXEC applied after a change");
  snprintf(key, sizeof(key), "hi:%s:e", label);
  freeReplyObject(run(c, "SET %s v PX 300", key));
  long long left = expect_integer(run(c, "PTTL %s", key), "PTTL");
  if (left <= 0 || left > 300) fail("PTTL %lld", left);
  usleep(400 * 1000);
  redisReply *gone = run(c, "GET %s", key);
  if (gone == NULL || gone->type != REDIS_REPLY_NIL) fail("expired key still there");
  freeReplyObject(gone);
  freeReplyObject(run(c, "CLIENT SETNAME hi-%s", label));
  redisReply *name = run(c, "CLIENT GETNAME");
  if (name == NULL || name->type != REDIS_REPLY_STRING || strncmp(name->str, "hi-", 3) != 0) {
    fail("CLIENT GETNAME");
  }
  freeReplyObject(name);
  redisFree(c);
  redisFree(other);
  printf("basics through node %d (%s): ok\n", node->id, label);
}

/* The master CLUSTER SLOTS names, asked of each live node in turn; 0 when none answers. */
static struct node *cluster_master(void) {
  for (int i = 0; i < node_count; i++) {
    if (!nodes[i].alive) continue;
    redisContext *c = connect_to(nodes[i].host, nodes[i].port);
    if (c == NULL) continue;
    redisReply *slots = run(c, "CLUSTER SLOTS");
    struct node *master = NULL;
    if (slots != NULL && slots->type == REDIS_REPLY_ARRAY && slots->elements == 1 &&
        slots->element[0]->elements >= 3) {
      long long port = slots->element[0]->element[2]->element[1]->integer;
      for (int j = 0; j < node_count; j++) {
        if (nodes[j].port == port && nodes[j].alive) master = &nodes[j];
      }
    }
    freeReplyObject(slots);
    redisFree(c);
    if (master != NULL) return master;
  }
  return NULL;
}

/* INCR through the master, following it through failovers; the value, or -1 on timeout. */
static long long incr_following(const char *key, struct node **master, redisContext **c) {
  const double deadline = now_s() + TIMEOUT_S;
  while (now_s() < deadline) {
    if (*c == NULL) {
      *master = cluster_master();
      if (*master != NULL) *c = connect_to((*master)->host, (*master)->port);
      if (*c == NULL) {
        usleep(50 * 1000);
        continue;
      }
    }
    redisReply *reply = run(*c, "INCR %s", key);
    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER) {
      long long value = reply->integer;
      freeReplyObject(reply);
      return value;
    }
    freeReplyObject(reply);  /* A dropped connection, or -TRYAGAIN: ask again. */
    redisFree(*c);
    *c = NULL;
  }
  return -1;
}

static void failover(void) {
  struct node *master = NULL;
  redisContext *c = NULL;
  for (int i = 0; i < 20; i++) {
    if (incr_following("hi:failover", &master, &c) < 0) fail("INCR before the kill");
  }
  const struct node *killed = master;
  kill(master->pid, SIGKILL);
  master->alive = 0;
  const double killed_at = now_s();
  long long value = incr_following("hi:failover", &master, &c);
  if (value < 0) fail("no write acknowledged within %d s of kill -9", TIMEOUT_S);
  if (master == killed) fail("still writing to the killed node");
  printf("failover: first write acknowledged %.2f s after kill -9 of node %d, through node %d; "
         "counter %lld\n", now_s() - killed_at, killed->id, master->id, value);
  if (value < 21) fail("acknowledged INCRs lost: counter %lld", value);
  redisFree(c);
}

int main(int argc, char **argv) {
  int leader_id = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--leader") == 0) leader_id = atoi(argv[i + 1]);
    if (strcmp(argv[i], "--node") != 0 || node_count == NODES_MAX) continue;
    struct node *n = &nodes[node_count++];
    if (sscanf(argv[i + 1], "%d=%63[^:]:%d=%d", &n->id, n->host, &n->port, &n->pid) != 4) {
      fail("bad --node %s", argv[i + 1]);
    }
    n->alive = 1;
  }
  const struct node *leader = NULL, *follower = NULL;
  for (int i = 0; i < node_count; i++) {
    if (nodes[i].id == leader_id) leader = &nodes[i];
    else if (follower == NULL) follower = &nodes[i];
  }
  if (leader == NULL || follower == NULL) fail("usage: --node ID=HOST:PORT=PID ... --leader ID");
  basics(leader, "leader", follower);
  basics(follower, "follower", leader);
  failover();
  printf("hiredis: all checks passed\n");
  return 0;
}
