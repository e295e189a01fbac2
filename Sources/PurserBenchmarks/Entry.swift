import Foundation

@main
struct PurserBenchmarks {
    static func main() {
        FileHandle.standardError.write(Data("purser-bench: no benchmarks yet\n".utf8))
    }
}
