namespace CtrDsl.Testing

open System
open FsCheck
open FsCheck.FSharp
open CtrDsl.Backends
open CtrDsl.Dsl

/// Sizes that run every kernel path: 1, every vector width ±1 (8 and 16 floats) and a few primes.
module Sizes =
    let awkward = [ 1; 2; 3; 5; 7; 8; 9; 13; 15; 16; 17 ]
    let fields = [ 1; 2; 3; 5; 7 ]
    let batches = [ 1; 2; 3; 5 ]

/// One case of a layer over x [batch; fields; dim], with the seed of every value it draws.
[<StructuredFormatDisplay("{Text}")>]
type LayerCase =
    { Batch: int
      Fields: int
      Dim: int
      Seed: int }

    member c.Text = $"batch {c.Batch}, fields {c.Fields}, dim {c.Dim}, seed {c.Seed}"
    override c.ToString() = c.Text

/// One batch of model inputs for a field layout: global ids [batch; id fields], numeric values [batch; dense fields]
/// as the data layer hands them over (missing already replaced by the field's default), and the padded ids of each
/// multi-valued field [batch; max length] (−1 pads).
[<StructuredFormatDisplay("{Text}")>]
type InputBatch =
    { Batch: int
      Ids: int[]
      Dense: float32[]
      Sequences: (string * int[]) list }

    member b.Text =
        let seqs =
            b.Sequences |> List.map (fun (n, v) -> $"; {n} {Show.values 24 [ b.Batch; v.Length / b.Batch ] (Array.map float v)}")

        $"batch {b.Batch}, ids {Show.values 24 [ b.Batch; (if b.Batch = 0 then 0 else b.Ids.Length / b.Batch) ] (Array.map float b.Ids)}"
        + (if b.Dense.Length = 0 then
               ""
           else
               $", dense {Show.values 24 [ b.Dense.Length ] (Array.map float b.Dense)}")
        + String.Concat seqs

    override b.ToString() = b.Text

module Gens =
    /// One of the listed sizes.
    let size (sizes: int list) = Gen.elements sizes

    /// Layer cases over the given field counts, dims and batch sizes, with a seed.
    let layerCaseOf (fields: int list) (dims: int list) (batches: int list) =
        gen {
            let! batch = Gen.elements batches
            let! fields = Gen.elements fields
            let! dim = Gen.elements dims
            let! seed = Gen.choose (0, 1_000_000)
            return { Batch = batch; Fields = fields; Dim = dim; Seed = seed }
        }

    /// Layer cases on the awkward sizes.
    let layerCase = layerCaseOf Sizes.fields Sizes.awkward Sizes.batches

    /// Smaller cases first: each size stepped down to every smaller size, then seed 0, so a failure shrinks to the
    /// smallest case that still fails.
    let shrinkLayerCase (c: LayerCase) =
        seq {
            for b in Sizes.batches |> List.filter (fun b -> b < c.Batch) -> { c with Batch = b }
            for f in Sizes.fields |> List.filter (fun f -> f < c.Fields) -> { c with Fields = f }
            for d in Sizes.awkward |> List.filter (fun d -> d < c.Dim) -> { c with Dim = d }

            if c.Seed <> 0 then
                yield { c with Seed = 0 }
        }

    /// A numeric column of n values, some missing (NaN), as a raw file gives them.
    let numericColumn (n: int) =
        Gen.frequency [ 4, Gen.map float32 (Gen.choose (-1000, 1000)) |> Gen.map (fun v -> v / 100.0f); 1, Gen.constant Single.NaN ]
        |> Gen.arrayOfLength n

    /// Field layouts with one of the given id field counts, each of an awkward number of rows (one global table),
    /// 0–3 numeric fields and 0–2 multi-valued fields with sum or mean pooling.
    let featuresOf (idFields: int list) =
        gen {
            let! ids = Gen.elements idFields
            let! perField = Gen.elements [ 2; 3; 7; 16 ]
            let! dense = Gen.choose (0, 3)
            let! sequences = Gen.choose (0, 2)
            let! lengths = Gen.listOfLength sequences (Gen.elements [ 1; 3; 5 ])
            let! pooling = Gen.listOfLength sequences (Gen.elements [ Pooling.Sum; Pooling.Mean ])
            // A history may share the first id field's rows (its target, as DIN reads it) or stand alone.
            let! targeted = Gen.listOfLength sequences (Gen.elements [ true; false ])

            return
                { IdFields = [ for i in 1..ids -> $"C{i}" ]
                  TableRows = ids * perField
                  DenseFields = [ for i in 1..dense -> $"I{i}" ]
                  Sequences =
                    List.zip3 (List.indexed lengths) pooling targeted
                    |> List.map (fun ((i, len), p, t) -> { Name = $"S{i}"; MaxLength = len; Pooling = p; Target = (if t then Some "C1" else None) })
                  Tasks = [] }
        }

    /// Field layouts with 1–8 id fields.
    let features = featuresOf [ 1; 2; 3; 5; 8 ]

    /// A batch of inputs for a layout. Field f's ids lie in its own block of rows; local id 0 is the OOV row and ids
    /// repeat often (a small range), so a batch has duplicates, OOV ids and, in multi-valued fields, −1 padding.
    let inputs (f: Features) (batch: int) =
        let perField = if f.IdFields.IsEmpty then f.TableRows else f.TableRows / f.IdFields.Length

        gen {
            let! local =
                Gen.arrayOfLength
                    (batch * f.IdFields.Length)
                    (Gen.frequency [ 1, Gen.constant 0; 3, Gen.choose (0, min 2 (perField - 1)); 2, Gen.choose (0, perField - 1) ])

            let ids = local |> Array.mapi (fun i v -> (i % f.IdFields.Length) * perField + v)
            let! raw = numericColumn (batch * f.DenseFields.Length)
            // The data layer replaces a missing number by its field's default before a model sees it.
            let dense = raw |> Array.map (fun v -> if Single.IsNaN v then 0.0f else v)

            let! sequences =
                f.Sequences
                |> List.map (fun s ->
                    gen {
                        let! rows =
                            Gen.listOfLength
                                batch
                                (gen {
                                    let! n = Gen.choose (0, s.MaxLength)
                                    let! v = Gen.arrayOfLength n (Gen.choose (0, f.TableRows - 1))
                                    return Array.append v (Array.create (s.MaxLength - n) -1)
                                })

                        return s.Name, Array.concat rows
                    })
                |> Gen.sequenceToList

            return { Batch = batch; Ids = ids; Dense = dense; Sequences = sequences }
        }

    /// A field layout from `layouts` with a batch of inputs for it.
    let featuresWithInputs (layouts: Gen<Features>) =
        gen {
            let! f = layouts
            let! batch = Gen.elements Sizes.batches
            let! b = inputs f batch
            return f, b
        }
