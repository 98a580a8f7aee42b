/// BST (Chen et al., DLP-KDD 2019, "Behavior Sequence Transformer for E-commerce Recommendation in Alibaba"): the
/// candidate and the user's behaviours, each with a learned position embedding, go through one transformer block
/// whose self-attention sees only the valid positions; the target's output and the behaviours' mean output join the
/// other fields' embeddings in an MLP. Defaults follow the paper's table 1: 1 block, 8 heads, MLP 1024-512-256,
/// dropout 0.2; the paper's LeakyReLU is PReLU here (a learned slope, 0.25 at first), and k = 16 so 8 heads have 2
/// dimensions each. The paper uses the time since each behaviour as its position; here the position is the rank in
/// the history (most recent first), which the data layer already orders.
module CtrDsl.Models.BST

open CtrDsl.Dsl

type BSTParams =
    { Embedding: EmbedOptions
      Transformer: TransformerOptions
      Mlp: MlpOptions }

    static member Defaults =
        { Embedding = EmbedOptions.dim 16
          Transformer = TransformerOptions.bst
          Mlp = { MlpOptions.hidden [ 1024; 512; 256 ] with Activation = PRelu; Dropout = 0.2f } }

let bst (p: BSTParams) =
    let table = embeddingTable p.Embedding
    concatFields [ lookupIds table; behaviourTransformer p.Transformer table ] |> dnnInput |> mlpWith p.Mlp

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: BSTParams) -> p.Mlp) (fun p v -> { p with Mlp = v })
let private block = Settings.within (fun (p: BSTParams) -> p.Transformer) (fun p v -> { p with Transformer = v })

let entry =
    Settings.model
        "bst"
        "BST"
        "BST (Chen et al., DLP-KDD 2019): a transformer block over [candidate; behaviours] with position embeddings, then an MLP."
        BSTParams.Defaults
        [ embedding.Dim
          deep.Hidden
          Settings.choiceField "dnn_activations" Settings.activations (fun p -> p.Mlp.Activation) (fun p v -> { p with Mlp.Activation = v })
          block (Settings.intField "att_head_num" 1 (fun o -> o.Heads) (fun o v -> { o with Heads = v }))
          deep.Dropout
          embedding.L2 "embedding_regularizer"
          deep.L2 "net_regularizer" ]
        Settings.noCheck
        bst
