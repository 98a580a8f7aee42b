namespace CtrDsl.Dsl

open CtrDsl.Backends
open CtrDsl.Ops

/// Pointwise activations of an MLP layer or an attention unit (Dice is DIN's data-adaptive PReLU).
type Activation =
    | Relu
    | Tanh
    | Sigmoid
    | PRelu
    | Dice
    | NoActivation

/// Embedding options: row width, the N(0, Std) initial values, and the L2 strength on looked-up rows.
type EmbedOptions = { Dim: int; Std: float32; L2: float32 }

/// MLP options. Each hidden layer is dense → batch norm (optional) → activation → dropout, as in DeepCTR.
type MlpOptions = { Hidden: int list; Activation: Activation; Dropout: float32; BatchNorm: bool; L2: float32 }

/// FEFM options: the field-pair matrices U start N(0, Std); W = U + Uᵀ.
type FefmOptions = { Std: float32; L2: float32 }

/// FGCNN feature generation, one entry per convolution layer: channels, kernel height h (kernel (h, 1)),
/// pooling size p (pool (p, 1)), and the number of new feature maps made from the pooled maps.
type ConvGenerateOptions = { Channels: int list; KernelHeights: int list; PoolSizes: int list; NewMaps: int list; Rounding: PoolRounding }

/// DCN's cross layer: the vector form x0·(x_lᵀw) + b + x_l (Wang 2017) or DCNv2's matrix form
/// x0 ⊙ (W x_l + b) + x_l (Wang 2021).
type CrossForm =
    | VectorCross
    | MatrixCross

/// FiBiNET's bilinear interaction p_ij = (v_i W) ⊙ v_j: one W for all fields, one per field i, or one per pair.
type BilinearKind =
    | FieldAll
    | FieldEach
    | FieldInteraction

/// AutoInt's interacting layer: heads × head size, with a residual projection when Residual is set.
type AttentionOptions = { Heads: int; HeadDim: int; Residual: bool }

module EmbedOptions =
    /// Dim k, N(0, 0.01) initial values (the PyTorch reference's), no L2.
    let dim k = { Dim = k; Std = 0.01f; L2 = 0.0f }

module MlpOptions =
    /// Hidden sizes with ReLU, no dropout, no batch norm, no L2.
    let hidden sizes = { Hidden = sizes; Activation = Relu; Dropout = 0.0f; BatchNorm = false; L2 = 0.0f }

module FefmOptions =
    /// U ~ N(0, 0.01), no L2.
    let defaults = { Std = 0.01f; L2 = 0.0f }

module ConvGenerateOptions =
    /// The FGCNN paper's example: channels 14/16/18/20, kernel height 7, pooling 2, 3 new maps per layer, floor.
    let paper =
        { Channels = [ 14; 16; 18; 20 ]
          KernelHeights = [ 7; 7; 7; 7 ]
          PoolSizes = [ 2; 2; 2; 2 ]
          NewMaps = [ 3; 3; 3; 3 ]
          Rounding = PoolRounding.Floor }

    /// Feature rows each layer generates for a given number of input fields: new maps × pooled height.
    let generatedFields (o: ConvGenerateOptions) (fields: int) =
        (fields, List.zip o.PoolSizes o.NewMaps)
        ||> List.mapFold (fun height (p, maps) ->
            let pooled = FieldMaxPool.OutFields(height, p, o.Rounding)
            maps * pooled, pooled)
        |> fst
