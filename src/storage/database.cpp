#include "storage/database.h"

#include "core/log.h"
#include "storage/migrations.h"
#include "storage/sqlite/sqlite_conn.h"
#include "storage/sqlite/sqlite_stores.h"

#include <filesystem>
#include <unordered_map>

namespace despatch::storage {

namespace {
std::atomic<uint64_t> g_next_serial{1};
// Large enough to amortise an fsync over many writers, small enough to bound latency.
constexpr size_t kMaxGroup = 2000;
}  // namespace

Result<std::unique_ptr<Database>> Database::open_sqlite(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Error::internal("cannot create data folder " + data_dir + ": " + ec.message());
  std::unique_ptr<Database> db(new Database());
  db->serial_ = g_next_serial++;
  db->path_ = data_dir + "/despatch.db";
  DS_ASSIGN(auto conn, SqliteConn::open(db->path_, false));
  DS_TRY(run_migrations(*conn));
  DS_ASSIGN(auto row, query_one(*conn, "SELECT value FROM meta WHERE key='stream_pos'"));
  if (row) db->assigned_pos_ = std::stoll(row->str(0));
  db->committed_pos_ = db->assigned_pos_;
  DS_TRY(conn->exec_script("PRAGMA wal_autocheckpoint=0;"));  // checkpoint_loop does it
  DS_ASSIGN(db->checkpoint_conn_, SqliteConn::open(db->path_, false));
  db->writer_conn_ = std::move(conn);
  db->writer_ = std::thread([d = db.get()] { d->writer_loop(); });
  db->checkpointer_ = std::thread([d = db.get()] { d->checkpoint_loop(); });
  return db;
}

void Database::checkpoint_loop() {
  int64_t checkpointed_at = commits_.load();
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_checkpoint_.wait_for(lock, std::chrono::milliseconds(250));
    if (stop_) break;
    int64_t commits = commits_.load();
    if (commits == checkpointed_at) continue;
    lock.unlock();
    // PASSIVE: copies what no reader still needs, never blocks the writer or readers.
    auto st = checkpoint_conn_->exec_script("PRAGMA wal_checkpoint(PASSIVE);");
    if (!st.ok()) DS_LOG(kWarn, "WAL checkpoint failed: {}", st.error().message);
    checkpointed_at = commits;
    lock.lock();
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
  Conn& c = *writer_conn_;
  std::vector<Job> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty() && stop_) return;
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
    }
    batch.clear();
  }
}

}  // namespace despatch::storage
