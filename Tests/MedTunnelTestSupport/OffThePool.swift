public import Foundation
public import Testing

/// Runs each test of a suite on threads of its own instead of the cooperative pool.
///
/// Process tests block their thread for as long as a child runs (`ChildProcess.run`, `stop`,
/// `waitUntilExit`, psql, polling with `usleep`). On the cooperative pool, which has one thread
/// per core (two here), two such tests at once stop every other test's tasks for that long: a
/// PostgreSQL transaction then sits idle past the server's 2 s limit and is ended, a 2 s connect
/// bound expires before its answer is read, a lease is not renewed in time. The product never
/// blocks the pool this way; these tests do by design, so they take their threads elsewhere.
///
/// Everything the test's task runs without an actor of its own, child tasks included, runs on
/// `ElasticThreads.shared`, which starts a thread whenever every one it has is busy.
public struct OffThePoolTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    @TaskLocal private static var applied = false

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        test.isSuite ? nil : self
    }

    public func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        if Self.applied {
            try await function()
            return
        }
        try await Self.$applied.withValue(true) {
            try await withTaskExecutorPreference(ElasticThreads.shared) { try await function() }
        }
    }
}

extension Trait where Self == OffThePoolTrait {
    /// The suite's tests block their threads (child processes, sleeps, psql): they run on threads
    /// of their own, off the cooperative pool (see `OffThePoolTrait`).
    public static var offThePool: Self { OffThePoolTrait() }
}

/// A task executor that starts a thread whenever a job arrives and none of its threads is idle;
/// a thread idle for 30 s ends. A job that blocks holds one thread, never the others' progress.
public final class ElasticThreads: TaskExecutor, @unchecked Sendable {
    public static let shared = ElasticThreads()

    // `condition` guards the three below.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var next = 0
    private var idle = 0

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.condition.lock()
        self.jobs.append(job)
        let pending = self.jobs.count - self.next
        // Each waiting thread takes one job when it wakes; any more get a thread of their own.
        if pending > self.idle {
            let thread = Thread { [self] in self.run() }
            thread.name = "off-the-pool"
            thread.start()
        } else {
            self.condition.signal()
        }
        self.condition.unlock()
    }

    private func run() {
        self.condition.lock()
        while true {
            if self.next < self.jobs.count {
                let job = self.jobs[self.next]
                self.next += 1
                if self.next == self.jobs.count {
                    self.jobs.removeAll(keepingCapacity: true)
                    self.next = 0
                }
                self.condition.unlock()
                job.runSynchronously(on: self.asUnownedTaskExecutor())
                self.condition.lock()
                continue
            }
            self.idle += 1
            let signaled = self.condition.wait(until: Date().addingTimeInterval(30))
            self.idle -= 1
            if !signaled && self.next == self.jobs.count {
                self.condition.unlock()
                return
            }
        }
    }
}

/// Runs blocking `body` (a child process, psql) on a new thread and awaits its result, so the
/// caller's thread, perhaps one of the cooperative pool's, stays free meanwhile.
public func onAThreadOfItsOwn<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
