// One dense layer (k = 400, n = 400, bias and ReLU, DeepFM's hidden layer) scored for m = 1 … 64 rows on one
// thread: over the weights packed for rows (CpuBackend.PackSingleRowWeights: RowGemv, up to RowGemv.MaxRows rows)
// against the plain GEMM on an undeclared buffer, in turns, twice. Median of 2,000 calls after 200 warm-up calls.
//   dotnet build src/Core.CSharp -c Release && dotnet fsi bench/latency/few-rows.fsx
#r "../../src/Core.CSharp/bin/Release/net10.0/CtrDsl.Core.dll"

open System.Diagnostics
open CtrDsl.Backends
open CtrDsl.Cpu

let k, n, most = 400, 400, 64
let rng = System.Random 1
let fill length = Array.init length (fun _ -> float32 (rng.NextDouble() - 0.5))
let w = CpuFloatBuffer(fill (k * n))
let bias = CpuFloatBuffer(fill n)
let x = CpuFloatBuffer(fill (most * k))
let y = CpuFloatBuffer(Array.zeroCreate (most * n))

let layer (backend: CpuBackend) m =
    backend.Gemm(
        Transpose.No,
        Transpose.No,
        m,
        n,
        k,
        1.0f,
        BufferView(x, 0L, int64 (m * k)),
        k,
        BufferView(w, 0L, int64 (k * n)),
        n,
        0.0f,
        BufferView(y, 0L, int64 (m * n)),
        n,
        BufferView(bias, 0L, int64 n),
        GemmEpilogue.BiasRelu
    )

let microseconds (backend: CpuBackend) m =
    for _ in 1..200 do
        layer backend m

    let t =
        Array.init 2000 (fun _ ->
            let start = Stopwatch.GetTimestamp()
            layer backend m
            float (Stopwatch.GetTimestamp() - start) / float Stopwatch.Frequency * 1e6)

    Array.sortInPlace t
    t[t.Length / 2]

let packed = new CpuBackend()
packed.PackSingleRowWeights [ w :> DeviceBuffer ]
let plain = new CpuBackend()
WorkerPool.ThreadCount <- 1
printfn "| round | weights | %s |" (String.concat " | " [ for m in [ 1; 2; 3; 4; 8; 16; 32; 64 ] -> $"m = {m}" ])
printfn "|---|---|%s" (String.replicate 8 "---|")

for round in 1..2 do
    for name, backend in [ "packed for rows", packed; "plain GEMM", plain ] do
        let cells =
            [ for m in [ 1; 2; 3; 4; 8; 16; 32; 64 ] ->
                  let us = microseconds backend m
                  $"{us:F1} µs ({2.0 * float (m * k * n) / us / 1e3:F0} GFLOP/s)" ]

        printfn "| %d | %s | %s |" round name (String.concat " | " cells)
