module CtrDsl.Dsl.Tests.ModelTests

open System
open Xunit
open CtrDsl.Dsl
open CtrDsl.Models
open CtrDsl.Dsl.Tests.Support

[<Fact>]
let ``DeepFEFM with every switch off but linear equals LR`` () =
    let f = features 6 4
    let onlyLinear =
        { DeepFEFM.DeepFEFMParams.Defaults with UseFefm = false; Hidden = []; UseLinear = true }
    let a = Model.build "DeepFEFM" f 3UL (DeepFEFM.deepFEFM onlyLinear)
    let b = Model.build "LR" f 3UL (LR.lr LR.LRParams.Defaults)
    Assert.Equal(b.ParameterCount, a.ParameterCount)
    // Give both the same non-zero weights, then compare outputs.
    let rng = Random 5
    for pa, pb in Seq.zip a.TrainableParameters b.TrainableParameters do
        for i in 0 .. pa.Value.Length - 1 do
            let v = float32 (rng.NextDouble() - 0.5)
            pa.Value[i] <- v
            pb.Value[i] <- v
    let ids = randomIds (Random 9) f 11
    Assert.Equal<float32[]>(forward b ids 11, forward a ids 11)

[<Fact>]
let ``DeepFEFM with every part off is an error`` () =
    let none = { DeepFEFM.DeepFEFMParams.Defaults with UseFefm = false; Hidden = []; UseLinear = false }
    Assert.Throws<ArgumentException>(fun () -> DeepFEFM.deepFEFM none |> ignore) |> ignore

[<Fact>]
let ``a model built twice with one seed has identical parameters`` () =
    let f = features 9 7
    let build () = Model.build "DeepFM" f 42UL (DeepFM.deepFM { DeepFM.DeepFMParams.Defaults with Hidden = [ 16; 8 ] })
    let a, b = build (), build ()
    for pa, pb in Seq.zip a.Parameters b.Parameters do
        Assert.Equal(pa.Name, pb.Name)
        Assert.Equal<float32[]>(pa.Value, pb.Value)
    let c = Model.build "DeepFM" f 43UL (DeepFM.deepFM { DeepFM.DeepFMParams.Defaults with Hidden = [ 16; 8 ] })
    let table (m: BuiltModel) = m.Parameters |> Seq.find (fun p -> p.Group = "embedding")
    Assert.NotEqual<float32[]>((table a).Value, (table c).Value)

[<Fact>]
let ``FGCNN classifier field count matches the paper's arithmetic on 39 fields`` () =
    // Pooled heights 19/9/4/2 with 3 new maps each: 57 + 27 + 12 + 6 = 102 generated, 141 in all.
    Assert.Equal(141, FGCNN.classifierFields FGCNN.FGCNNParams.Defaults 39)

[<Fact>]
let ``FGCNN with too few fields for its pooling fails clearly`` () =
    let f = features 6 2
    let ex = Assert.Throws<CtrDsl.Tensors.ShapeException>(fun () -> Model.build "FGCNN" f 1UL (FGCNN.fgcnn FGCNN.FGCNNParams.Defaults) |> ignore)
    Assert.Contains("too few fields for pooling", ex.Message)

[<Fact>]
let ``every seed model builds on Criteo-shaped features and describes itself`` () =
    let f = features 39 10
    let models =
        [ "LR", LR.lr LR.LRParams.Defaults
          "FM", FM.fm FM.FMParams.Defaults
          "DNN", DNN.dnn DNN.DNNParams.Defaults
          "DeepFM", DeepFM.deepFM DeepFM.DeepFMParams.Defaults
          "WideDeep", WideDeep.wideDeep WideDeep.WideDeepParams.Defaults
          "DeepFEFM", DeepFEFM.deepFEFM DeepFEFM.DeepFEFMParams.Defaults
          "FGCNN", FGCNN.fgcnn FGCNN.FGCNNParams.Defaults
          "IPNN", IPNN.ipnn IPNN.IPNNParams.Defaults
          "NFM", NFM.nfm NFM.NFMParams.Defaults
          "FwFM", FwFM.fwfm FwFM.FwFMParams.Defaults ]
    for name, expr in models do
        let m = Model.build name f 1UL expr
        let text = Describe.text m
        Assert.Contains(name, text)
        Assert.Contains($"{m.ParameterCount:N0}", text)
    // DeepFM's parameter count by hand: 390 linear rows + bias, 390×10 embedding, MLP 390·400+400 + 2·(400·400+400) + 400+1.
    let deepFM = Model.build "DeepFM" f 1UL (DeepFM.deepFM DeepFM.DeepFMParams.Defaults)
    Assert.Equal(390L + 1L + 3900L + (390L * 400L + 400L) + 2L * (400L * 400L + 400L) + 401L, deepFM.ParameterCount)
