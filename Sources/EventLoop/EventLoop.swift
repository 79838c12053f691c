import Dispatch
import Glibc
import Synchronization

/// Monotonic clock in nanoseconds (CLOCK_MONOTONIC).
@inline(__always) public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Wall clock in seconds since the epoch (for JWT time checks and logs).
@inline(__always) public func wallClockSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Something with deadlines that the loop's coarse timer visits.
public protocol TimedObject: AnyObject {
    /// Called on the loop's queue on every tick with the monotonic time in nanoseconds.
    func checkTimeouts(now: UInt64)
}

/// One event loop: a serial DispatchQueue and everything confined to it.
/// Thread-safety: all mutable state is touched only on `queue` (asserted in debug builds).
public final class EventLoop: @unchecked Sendable {
    public let queue: DispatchQueue
    public let index: Int
    /// Scratch buffer for reads; used only on `queue`, never retained across calls.
    public let readBuffer: UnsafeMutableRawBufferPointer
    private var timed: [ObjectIdentifier: TimedObject] = [:]
    private var tickTimer: DispatchSourceTimer?
    private var deferred: [() -> Void] = []
    private var deferredScheduled = false
    /// Per-loop storage for higher layers (pools, caches); touched only on `queue`.
    public var userInfo: [String: AnyObject] = [:]

    public static let tickInterval: UInt64 = 100_000_000  // 100 ms

    public let backend: EventBackend
    let poller: EpollPoller?

    public init(index: Int, readBufferSize: Int = 64 * 1024, backend: EventBackend = .dispatchSources) {
        self.index = index
        self.backend = backend
        self.poller = backend == .epollSet ? EpollPoller() : nil
        self.queue = DispatchQueue(label: "portcullis.loop.\(index)", qos: .userInitiated)
        self.readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readBufferSize, alignment: 16)
    }

    deinit { readBuffer.deallocate() }

    @inline(__always) public func assertOnLoop() {
        #if DEBUG
        dispatchPrecondition(condition: .onQueue(queue))
        #endif
    }

    /// Starts the coarse timer that drives every timeout on this loop.
    public nonisolated func start() {
        queue.async { [self] in
            poller?.start(on: queue)
            let t = DispatchSource.makeTimerSource(queue: queue)
            t.schedule(deadline: .now() + .nanoseconds(Int(Self.tickInterval)),
                       repeating: .nanoseconds(Int(Self.tickInterval)), leeway: .milliseconds(10))
            t.setEventHandler { [unowned self] in self.tick() }
            t.resume()
            tickTimer = t
        }
    }

    public func execute(_ work: @escaping @Sendable () -> Void) { queue.async(execute: work) }

    /// Runs `work` once the current batch of events on this loop is done (coalesces flushes).
    public func deferUntilIdle(_ work: @escaping () -> Void) {
        assertOnLoop()
        deferred.append(work)
        if !deferredScheduled {
            deferredScheduled = true
            let box = UncheckedBox(self)
            queue.async { box.value.runDeferred() }
        }
    }

    private func runDeferred() {
        deferredScheduled = false
        let work = deferred
        deferred.removeAll(keepingCapacity: true)
        for w in work { w() }
    }

    public func register(_ object: TimedObject) {
        assertOnLoop()
        timed[ObjectIdentifier(object)] = object
    }

    public func unregister(_ object: TimedObject) {
        assertOnLoop()
        timed.removeValue(forKey: ObjectIdentifier(object))
    }

    public var timedObjectCount: Int { timed.count }

    private func tick() {
        let now = monotonicNanos()
        // Copy: checkTimeouts may unregister objects.
        for object in Array(timed.values) { object.checkTimeouts(now: now) }
    }
}

/// Moves a non-Sendable value into a closure that runs on the queue the value is confined to.
public struct UncheckedBox<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
