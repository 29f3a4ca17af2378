// The one error type of the Hugging Face Hub loader: a bad id, a missing file, an HTTP error, a web
// page instead of a file, a config.json this runtime cannot use, weights that do not fit their
// config. A WeightsFormatError, so whatever handles bad weights handles it; one line naming the model.

import { WeightsFormatError } from '../weights/safetensors.js';

export class HubError extends WeightsFormatError {
  override name = 'HubError';
}
