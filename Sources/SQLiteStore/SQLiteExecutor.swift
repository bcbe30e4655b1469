import Foundation

/// A serial executor backed by one dedicated thread, for actors that make blocking SQLite calls.
///
/// A commit with `synchronous=FULL` blocks in `fsync` for milliseconds; running it on the
/// cooperative thread pool would stall unrelated tasks. An actor that owns a `SQLiteConnection`
/// returns this executor as its `unownedExecutor`, so all its work runs on this thread instead.
///
/// Made with `taskExecutor: true`, it is also a task executor: under
/// `withTaskExecutorPreference(executor)`, the nonisolated async code an actor awaits (a
/// PostgreSQL statement's future) resumes here too, not on the cooperative pool, so a transaction
/// held open across those awaits never waits for a pool thread while the server counts it idle.
/// Only such an executor runs its jobs as both: the others' actors keep hopping to the pool for
/// nonisolated code, as they always have.
public final class SQLiteExecutor: SerialExecutor, TaskExecutor, @unchecked Sendable {
    // `condition` guards `jobs` and `stopping`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false
    private let taskExecutor: Bool

    /// Starts the thread. It runs until `shutdown()` and holds a reference to the executor until then.
    public init(name: String, taskExecutor: Bool = false) {
        self.taskExecutor = taskExecutor
        let thread = Thread { [self] in self.run() }
        thread.name = name
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.condition.lock()
        self.jobs.append(job)
        self.condition.signal()
        self.condition.unlock()
    }

    /// Lets the thread finish the jobs already queued and exit.
    public func shutdown() {
        self.condition.lock()
        self.stopping = true
        self.condition.signal()
        self.condition.unlock()
    }

    private func run() {
        var batch: [UnownedJob] = []
        while true {
            self.condition.lock()
            while self.jobs.isEmpty && !self.stopping {
                self.condition.wait()
            }
            if self.jobs.isEmpty {
                self.condition.unlock()
                return
            }
            swap(&batch, &self.jobs)
            self.condition.unlock()
            for job in batch {
                if self.taskExecutor {
                    job.runSynchronously(
                        isolatedTo: self.asUnownedSerialExecutor(),
                        taskExecutor: self.asUnownedTaskExecutor()
                    )
                } else {
                    job.runSynchronously(on: self.asUnownedSerialExecutor())
                }
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
