package org.fslspark.model;

import org.fslspark.text.Tokenizer;
import org.fslspark.text.Tokenizers;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;
import java.util.Random;

/**
 * Samples text from a language-model checkpoint, one token at a time: the model sees the last
 * {@code context} tokens at most (a sliding window), the next token is drawn from the softmax of
 * the last position's logits divided by the temperature (0: the most likely token), restricted to
 * the top k (0: all). Generation stops early at the tokenizer's end-of-text token, where the model
 * learnt that a document ends. Each step runs the whole window: no key/value cache, which these
 * small models do not need.
 */
public final class Generator {
    private final Network net;
    private final Tokenizer tokenizer;
    private final int context;
    private final int vocab;

    public Generator(Checkpoint checkpoint) {
        this.tokenizer = checkpoint.loadTokenizer();
        this.net = checkpoint.network();
        this.context = (int) checkpoint.spec().inputShape()[0];
        this.vocab = checkpoint.spec().classes();
    }

    /** The prompt's ids; refused when the tokenizer cannot represent the prompt or the model does not know an id. */
    public int[] encode(String prompt) {
        int[] ids = tokenizer.encode(prompt);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException("the prompt's token " + i + " has id " + ids[i]
                        + ", outside the model's vocabulary 0.." + (vocab - 1));
            }
        }
        String back = tokenizer.decode(ids);
        if (!back.equals(prompt)) {
            throw new IllegalArgumentException("the prompt has characters the model's tokenizer does not know: \""
                    + prompt + "\" encodes to " + Arrays.toString(ids) + ", which decodes to \"" + back + "\"");
        }
        if (ids.length == 0) {
            int start = Tokenizers.endOfText(tokenizer);
            if (start < 0) {
                throw new IllegalArgumentException("the prompt is empty and the tokenizer has no end-of-text token"
                        + " to start a document with; give a --prompt");
            }
            return new int[]{start}; // an empty prompt starts a new document
        }
        return ids;
    }

    /** The prompt followed by up to {@code tokens} sampled tokens, as text. */
    public String generate(String prompt, int tokens, double temperature, int topK, long seed) {
        return tokenizer.decode(sample(encode(prompt), tokens, temperature, topK, new Random(seed)));
    }

    /** {@code ids} followed by up to {@code tokens} sampled ids. */
    public int[] sample(int[] ids, int tokens, double temperature, int topK, Random rng) {
        if (tokens < 0 || !(temperature >= 0) || topK < 0) {
            throw new IllegalArgumentException("need tokens >= 0, temperature >= 0 and top-k >= 0, got " + tokens + ", "
                    + temperature + ", " + topK);
        }
        int[] out = Arrays.copyOf(ids, ids.length + tokens);
        int n = ids.length;
        int end = Tokenizers.endOfText(tokenizer);
        for (int step = 0; step < tokens; step++) {
            int start = Math.max(0, n - context);
            // Always a full window, padded on the right with id 0: attention is causal (later positions
            // do not change earlier ones at all), and one shape lets the native kernels be reused
            // (a new length per step costs the library a new kernel each time, about a second here).
            float[] window = new float[context];
            for (int i = start; i < n; i++) {
                window[i - start] = out[i];
            }
            INDArray logits = net.forward(Nd4j.create(window, new long[]{1, context}, 'c'));
            double[] last = logits.get(NDArrayIndex.point(0), NDArrayIndex.point(n - start - 1), NDArrayIndex.all())
                    .toDoubleVector();
            int next = pick(last, temperature, topK, rng);
            out[n++] = next;
            if (next == end) {
                break;
            }
        }
        return Arrays.copyOf(out, n);
    }

    /** The most likely id at temperature 0, else a draw from softmax(logits / temperature) over the top k. */
    static int pick(double[] logits, double temperature, int topK, Random rng) {
        Integer[] order = new Integer[logits.length];
        Arrays.setAll(order, i -> i);
        Arrays.sort(order, (a, b) -> Double.compare(logits[b], logits[a])); // stable: ties keep the lower id first
        if (temperature == 0) {
            return order[0];
        }
        int k = topK == 0 ? logits.length : Math.min(topK, logits.length);
        double[] weights = new double[k];
        double total = 0;
        for (int i = 0; i < k; i++) {
            weights[i] = Math.exp((logits[order[i]] - logits[order[0]]) / temperature);
            total += weights[i];
        }
        double u = rng.nextDouble() * total;
        for (int i = 0; i < k; i++) {
            u -= weights[i];
            if (u < 0) {
                return order[i];
            }
        }
        return order[k - 1];
    }
}
