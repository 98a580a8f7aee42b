namespace CtrDsl.Dsl

open System
open System.Collections.Generic
open System.Text.Json
open CtrDsl.Metrics

/// One evaluation point: at an epoch's end, or every N steps.
type Evaluation =
    { Epoch: int
      Step: int64
      TrainLoss: float
      Valid: MetricsReport option
      LearningRate: float
      Seconds: float
      SamplesPerSecond: float }

module Evaluation =
    let toJson (r: Evaluation) =
        JObj
            [ "epoch", JInt(int64 r.Epoch)
              "step", JInt r.Step
              "train_loss", JNum r.TrainLoss
              "valid",
              (match r.Valid with
               | Some m -> Json.metrics m
               | None -> JNull)
              "learning_rate", JNum r.LearningRate
              "seconds", JNum r.Seconds
              "samples_per_second", JNum r.SamplesPerSecond ]

    let internal num (e: JsonElement) (name: string) =
        match e.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.Number -> v.GetDouble()
        | _ -> nan

    let metricsOf (v: JsonElement) =
        MetricsReport(int64 (num v "count"), num v "auc", num v "logloss", nan, num v "calibration", num v "accuracy", num v "mse")

    let ofJson (e: JsonElement) =
        { Epoch = int (num e "epoch")
          Step = int64 (num e "step")
          TrainLoss = num e "train_loss"
          Valid =
            (match e.TryGetProperty "valid" with
             | true, v when v.ValueKind = JsonValueKind.Object -> Some(metricsOf v)
             | _ -> None)
          LearningRate = num e "learning_rate"
          Seconds = num e "seconds"
          SamplesPerSecond = num e "samples_per_second" }

/// Everything the loop needs to continue where it stopped; saved in the last checkpoint's metadata ("loop").
/// Policies keep their own counts in Counters, under their own names.
type FitState =
    {
        mutable Epoch: int
        /// Batches of the current epoch already read (trained, or left to other ranks).
        mutable Batch: int
        /// The best value of the monitored metric so far, and its evaluation's index in History (−1: none yet).
        mutable Best: float
        mutable BestIndex: int
        mutable LossSum: float
        mutable LossRows: int64
        /// Why the run stopped early ("" while it goes on).
        mutable Stopped: string
        mutable History: Evaluation list
        Counters: Dictionary<string, float>
    }

    member s.Counter(name: string) =
        match s.Counters.TryGetValue name with
        | true, v -> v
        | _ -> 0.0

module FitState =
    let fresh () =
        { Epoch = 0
          Batch = 0
          Best = nan
          BestIndex = -1
          LossSum = 0.0
          LossRows = 0L
          Stopped = ""
          History = []
          Counters = Dictionary() }

    let toJson (s: FitState) =
        JObj
            [ "epoch", JInt(int64 s.Epoch)
              "batch", JInt(int64 s.Batch)
              "best", JNum s.Best
              "best_index", JInt(int64 s.BestIndex)
              "loss_sum", JNum s.LossSum
              "loss_rows", JInt s.LossRows
              "stopped", JStr s.Stopped
              "counters", JObj [ for KeyValue(k, v) in s.Counters -> k, JNum v ]
              "history", JArr(s.History |> List.map Evaluation.toJson) ]
        |> Json.serialize

    let ofJson (text: string) =
        use doc = JsonDocument.Parse text
        let r = doc.RootElement
        let num = Evaluation.num r
        let counters = Dictionary<string, float>()

        match r.TryGetProperty "counters" with
        | true, c when c.ValueKind = JsonValueKind.Object ->
            for p in c.EnumerateObject() do
                counters[p.Name] <- p.Value.GetDouble()
        | _ ->
            // Checkpoints written before the policies kept named counters.
            for name in [ "bad_evals"; "plateau_evals" ] do
                let v = num name

                if not (Double.IsNaN v) then
                    counters[name] <- v

        { Epoch = int (num "epoch")
          Batch = int (num "batch")
          Best = num "best"
          BestIndex = int (num "best_index")
          LossSum = num "loss_sum"
          LossRows = int64 (num "loss_rows")
          Stopped =
            (match r.GetProperty("stopped").GetString() with
             | null -> ""
             | s -> s)
          History = [ for e in r.GetProperty("history").EnumerateArray() -> Evaluation.ofJson e ]
          Counters = counters }
