/// The model zoo as an explicit list. Each model folder declares its parameter record, its settings table and its
/// entry (see Settings); adding a model is one folder and one line here.
module CtrDsl.Models.Registry

/// Every model, in the order `ctr models` lists them.
let all: Settings.ModelEntry list =
    [ LR.entry
      FM.entry
      DNN.entry
      DeepFM.entry
      WideDeep.entry
      DeepFEFM.entry
      FGCNN.entry
      IPNN.entry
      NFM.entry
      FwFM.entry
      FFM.entry
      FEFM.entry
      OPNN.entry
      AFM.entry
      DCN.entry
      DCNv2.entry
      xDeepFM.entry
      AutoInt.entry
      AutoInt.plusEntry
      FiBiNET.entry
      ONN.entry
      DIN.entry
      DIEN.entry
      BST.entry
      SharedBottom.entry
      ESMM.entry
      MMoE.entry
      PLE.entry ]

/// The behaviour-sequence models: they need a history field that shares the candidate's vocabulary.
let sequence = [ "din"; "dien"; "bst" ]

/// The multi-task models: they need a schema whose labels are tasks.
let multiTask = [ "sharedbottom"; "esmm"; "mmoe"; "ple" ]

/// Every model's key, for error messages: "lr, fm, dnn, …".
let names = all |> List.map (fun e -> e.Name)

/// The entry for a name (case-insensitive), or None.
let tryFind (name: string) =
    let key = name.ToLowerInvariant()
    all |> List.tryFind (fun e -> e.Name = key)

// The settings types under their former home, so `open CtrDsl.Models.Registry` and `Registry.Int` keep working.
type SettingValue = Settings.SettingValue
type SettingError = Settings.SettingError
type Configured = Settings.Configured
type ModelEntry = Settings.ModelEntry

module SettingValue =
    let show = Settings.SettingValue.show

let (|Int|Float|Bool|Text|Ints|) (v: SettingValue) =
    match v with
    | Settings.Int i -> Int i
    | Settings.Float f -> Float f
    | Settings.Bool b -> Bool b
    | Settings.Text s -> Text s
    | Settings.Ints l -> Ints l

let Int i = Settings.Int i
let Float f = Settings.Float f
let Bool b = Settings.Bool b
let Text s = Settings.Text s
let Ints l = Settings.Ints l

let (|UnknownKey|BadValue|) (e: SettingError) =
    match e with
    | Settings.UnknownKey(k, known) -> UnknownKey(k, known)
    | Settings.BadValue(k, expected, got) -> BadValue(k, expected, got)
