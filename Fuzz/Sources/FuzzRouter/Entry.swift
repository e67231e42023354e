import CLibFuzzer

// SwiftPM's debug link points `main` at `FuzzRouter_main` (so that tests could link the executable); hand over to
// libFuzzer's driver from there. `fuzz` is this target's `LLVMFuzzerTestOneInput`.
@_cdecl("FuzzRouter_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) }
}
