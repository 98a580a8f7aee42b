/// Expectations that Expecto's `Expect` lacks, for tests of any suite: the exception a call throws, and containment
/// that reads as the sentence it tests.
namespace CtrDsl.Testing

open Expecto

[<AutoOpen>]
module Expectations =
    /// The exception of type 'E that f throws; fails the test when it throws none or another.
    let throws<'E when 'E :> exn> (f: unit -> unit) : 'E =
        try
            f ()
            failtest $"expected {typeof<'E>.Name}, nothing was thrown"
        with :? 'E as e ->
            e

/// A text within a text, an item within a sequence, a value within a range.
type Has =
    static member In(part: string, within: string) = Expect.stringContains within part $"\"{part}\" in the text"

    static member In(item: 'T, within: seq<'T>) = Expect.contains within item $"{item} in the sequence"

    static member Not(part: string, within: string) = Expect.isFalse (within.Contains part) $"\"{part}\" should not be in: {within}"

    static member Not(item: 'T, within: seq<'T>) = Expect.isFalse (Seq.contains item within) $"{item} should not be in the sequence"

    static member Within(value: 'T, lo: 'T, hi: 'T) = Expect.isTrue (value >= lo && value <= hi) $"{value} within [{lo}, {hi}]"
