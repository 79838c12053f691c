/// A FIFO of bytes with cheap consumption from the front (compacts lazily).
struct ByteQueue {
    private(set) var storage: [UInt8] = []
    private var start = 0

    var count: Int { storage.count - start }
    var isEmpty: Bool { storage.count == start }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && (start == storage.count || start >= 16384 && start * 2 >= storage.count) {
            storage.removeSubrange(0..<start); start = 0
        }
        storage.append(contentsOf: bytes)
    }

    mutating func consume(_ n: Int) {
        start += n
        if start == storage.count { storage.removeAll(keepingCapacity: storage.capacity <= 65536); start = 0 }
    }

    mutating func removeAll() { storage.removeAll(keepingCapacity: false); start = 0 }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start...])) }
    }
}
