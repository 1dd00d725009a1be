#include "storage/database.h"

#include <pthread.h>

#include "core/log.h"
#include "storage/migrations.h"
#include "storage/sqlite/sqlite_conn.h"
#include "storage/sqlite/sqlite_stores.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <unordered_map>

namespace despatch::storage {

namespace {
std::atomic<uint64_t> g_next_serial{1};
// Large enough to amortise an fsync over many writers, small enough to bound latency.
constexpr size_t kMaxGroup = 2000;
// How often the checkpoint thread looks for committed work.
constexpr auto kCheckpointEvery = std::chrono::milliseconds(250);
// No commit for this long counts as idle: the WAL is then checkpointed and truncated.
constexpr auto kIdleBeforeTruncate = std::chrono::seconds(1);
// A WAL past this size under load gets a RESTART checkpoint (see checkpoint_loop); the
// commit after it cuts the file back to journal_size_limit (16 MiB, sqlite_conn.cpp).
constexpr uintmax_t kWalRestartBytes = 32u << 20;
// After a RESTART that readers kept from finishing, PASSIVE only for this long.
constexpr auto kRestartBackoff = std::chrono::seconds(1);
// The longest a RESTART or TRUNCATE checkpoint waits for readers (or for another process's
// writer, such as `despatch user add`). Our writer is held meanwhile, so this bounds the
// stall a checkpoint adds to a commit.
constexpr int kCheckpointBusyMs = 100;

// A read-only or full data folder is found at start, with its reason, rather than at the
// first write a client makes.
Status check_writable(const std::string& data_dir) {
  std::string probe = data_dir + "/.write-check";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return Error::internal("the data folder " + data_dir + " is not writable: " + std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
  return ok_status();
}

// A damaged page is reported at start, before it is built on: quick_check reads every page
// (seconds for a large database) and stops at the first problem.
Status check_integrity(Conn& c, const std::string& path) {
  auto started = std::chrono::steady_clock::now();
  auto rows = c.query("PRAGMA quick_check(1)");
  if (!rows.ok())
    return Error::internal("the database " + path + " cannot be read (" + rows.error().message +
                           "): restore it from a backup");
  std::string verdict = rows->empty() ? "no answer" : rows->front().str(0);
  if (verdict != "ok")
    return Error::internal("the database " + path + " is corrupt (" + verdict + "): restore it from a backup");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  if (ms.count() > 1000) DS_LOG(kInfo, "database integrity checked in {} ms", ms.count());
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<Database>> Database::open_sqlite(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Error::internal("cannot create data folder " + data_dir + ": " + ec.message());
  DS_TRY(check_writable(data_dir));
  std::unique_ptr<Database> db(new Database());
  db->serial_ = g_next_serial++;
  db->path_ = data_dir + "/despatch.db";
  DS_ASSIGN(auto conn, SqliteConn::open(db->path_, false));
  DS_TRY(check_integrity(*conn, db->path_));
  DS_TRY(run_migrations(*conn));
  DS_ASSIGN(auto row, query_one(*conn, "SELECT value FROM meta WHERE key='stream_pos'"));
  if (row) db->assigned_pos_ = std::stoll(row->str(0));
  db->committed_pos_ = db->assigned_pos_;
  DS_TRY(conn->exec_script("PRAGMA wal_autocheckpoint=0;"));  // checkpoint_loop does it
  DS_ASSIGN(db->checkpoint_conn_, SqliteConn::open(db->path_, false));
  DS_TRY(db->checkpoint_conn_->exec_script("PRAGMA busy_timeout=" + std::to_string(kCheckpointBusyMs) + ";"));
  db->writer_conn_ = std::move(conn);
  db->writer_ = std::thread([d = db.get()] { d->writer_loop(); });
  db->checkpointer_ = std::thread([d = db.get()] { d->checkpoint_loop(); });
  return db;
}

// The WAL's size on disk; 0 when it cannot be read (no WAL yet).
uintmax_t Database::wal_bytes() const {
  std::error_code ec;
  auto n = std::filesystem::file_size(path_ + "-wal", ec);
  return ec ? 0 : n;
}

bool Database::checkpoint(std::string_view mode) {
  auto rows = checkpoint_conn_->query("PRAGMA wal_checkpoint(" + std::string(mode) + ")");
  if (!rows.ok()) {
    DS_LOG(kWarn, "WAL checkpoint ({}) failed: {}", mode, rows.error().message);
    return false;
  }
  return rows->empty() || rows->front().i64(0) == 0;  // first column: 1 when busy
}

bool Database::checkpoint_holding_writer(std::unique_lock<std::mutex>& lock, std::string_view mode) {
  // Between groups the writer holds no lock, so the checkpoint gets the write lock at once
  // and waits only for readers (at most the busy timeout); the writer, woken when it is
  // done, never spins in SQLite's busy handler meanwhile.
  writer_hold_ = true;
  cv_checkpoint_.wait(lock, [&] { return !writer_busy_; });
  lock.unlock();
  bool done = checkpoint(mode);
  lock.lock();
  writer_hold_ = false;
  cv_.notify_all();
  return done;
}

void Database::checkpoint_loop() {
  pthread_setname_np(pthread_self(), "ds-checkpoint");  // named in top and perf
  using Clock = std::chrono::steady_clock;
  int64_t checkpointed_at = commits_.load();  // commits the last checkpoint covered
  int64_t seen = checkpointed_at;
  Clock::time_point last_commit = Clock::now(), last_passive{}, restart_not_before{},
                    truncate_not_before{};
  bool truncated = false;  // the WAL was emptied after the last commit
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_checkpoint_.wait_for(lock, kCheckpointEvery);  // or woken by a commit that left a large WAL
    if (stop_) break;
    int64_t commits = commits_.load();
    auto now = Clock::now();
    if (commits != seen) {
      seen = commits;
      last_commit = now;
      truncated = false;
    }
    if (commits != checkpointed_at) {
      bool restart = wal_bytes() > kWalRestartBytes && now >= restart_not_before;
      if (!restart && now - last_passive < kCheckpointEvery) continue;
      // PASSIVE copies what no reader still needs and never blocks anyone.
      lock.unlock();
      (void)checkpoint("PASSIVE");
      lock.lock();
      checkpointed_at = commits;
      last_passive = now;
      // Under steady writes there is never a moment when the WAL is all copied and no
      // commit follows, so SQLite never starts it over and it grows without end. Past a
      // size, RESTART with the writer held: it copies the little PASSIVE left, and the next
      // commit starts the WAL over and cuts the file back to journal_size_limit. When
      // readers were in the way, leave the writer alone for a while before trying again.
      if (restart && !checkpoint_holding_writer(lock, "RESTART"))
        restart_not_before = now + kRestartBackoff;
    } else if (!truncated && now - last_commit >= kIdleBeforeTruncate && now >= truncate_not_before) {
      // The writer is idle: copy everything and cut the WAL file to nothing.
      truncated = checkpoint_holding_writer(lock, "TRUNCATE");
      if (!truncated) truncate_not_before = now + kIdleBeforeTruncate;
    }
  }
}

Database::~Database() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  cv_checkpoint_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  if (writer_.joinable()) writer_.join();
}

Conn& Database::reader() {
  // One read connection per thread per database; threads are few and long-lived. Keyed by
  // a serial, not the address: a new Database may reuse a freed one's address.
  thread_local std::unordered_map<uint64_t, std::unique_ptr<SqliteConn>> conns;
  auto& c = conns[serial_];
  if (!c) {
    auto r = SqliteConn::open(path_, true);
    if (!r.ok()) throw std::runtime_error(r.error().message);
    c = std::move(r).value();
  }
  return *c;
}

Stores& Database::read() {
  thread_local std::unordered_map<uint64_t, std::unique_ptr<SqliteStores>> views;
  auto& v = views[serial_];
  if (!v) {
    // A read view hands out no stream positions: only the writer assigns them.
    v = std::make_unique<SqliteStores>(reader(), []() -> int64_t {
      throw std::logic_error("stream position requested outside a write");
    });
  }
  return *v;
}

std::unique_ptr<Txn> Database::txn_over(Conn& c) {
  return std::make_unique<SqliteStores>(c, [this] { return next_stream_pos(); });
}

void Database::enqueue(Job job) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void Database::writer_loop() {
  pthread_setname_np(pthread_self(), "ds-writer");
  Conn& c = *writer_conn_;
  std::vector<Job> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      writer_busy_ = false;
      if (writer_hold_) cv_checkpoint_.notify_all();
      cv_.wait(lock, [&] { return (stop_ || !queue_.empty()) && !writer_hold_; });
      if (queue_.empty() && stop_) return;
      writer_busy_ = true;
      while (!queue_.empty() && batch.size() < kMaxGroup) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    int64_t pos_before = assigned_pos_;
    Status st = c.exec("BEGIN IMMEDIATE");
    if (st.ok()) {
      for (auto& job : batch) {
        (void)c.exec("SAVEPOINT job");
        bool keep = false, threw = false;
        try {
          keep = job.run(c);
        } catch (const std::exception& e) {
          DS_LOG(kError, "write job threw: {}", e.what());
          threw = true;
        } catch (...) {
          DS_LOG(kError, "write job threw");
          threw = true;
        }
        if (!keep) (void)c.exec("ROLLBACK TO job");
        // A job that threw may have left caches that mirror the database (room state, the
        // keeper's sessions) half-updated: drop them so they are reloaded from what was kept.
        if (threw)
          for (auto& fn : on_rollback_) fn();
        (void)c.exec("RELEASE job");
      }
      if (assigned_pos_ != pos_before)
        st = c.exec("INSERT INTO meta(key, value) VALUES('stream_pos', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    {std::to_string(assigned_pos_)});
      if (st.ok()) st = c.exec("COMMIT");
    }
    if (!st.ok()) {
      DS_LOG(kError, "group commit failed: {}", st.error().message);
      (void)c.exec("ROLLBACK");
      assigned_pos_ = pos_before;
      for (auto& fn : on_rollback_) fn();
      for (auto& job : batch) job.finish(&st.error());
    } else {
      committed_pos_.store(assigned_pos_, std::memory_order_release);
      commits_.fetch_add(1);
      for (auto& job : batch) job.finish(nullptr);
      if (wal_bytes() > kWalRestartBytes) cv_checkpoint_.notify_one();
    }
    batch.clear();
  }
}

}  // namespace despatch::storage
