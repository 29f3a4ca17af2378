// One classification result, shared by the network's fc head (src/classify.ts) and a trained
// transfer head (src/transfer/head.ts).

export interface Classification {
  /** Class index (ImageNet: the i-th sorted WordNet id; a transfer head: into its class names). */
  index: number;
  label: string;
  probability: number;
}
