package org.fslspark.data;

import java.util.List;
import java.util.Locale;

/**
 * A {@code prepare} job for a text corpus: which files to read, how to cut them into documents and token
 * sequences, how to split the sequences among institutes and where each share and the held-out set go.
 * Field names follow the experiment config keys (the {@code KEY_*} constants) so messages name the key to fix.
 *
 * @param dataset      a name recorded in every written file
 * @param train        text files or directories (any Hadoop path), read in the given order (a directory's
 *                     files by name, skipping names starting with {@code _} or {@code .})
 * @param test         held-out text files; empty: hold out {@code testFraction} of the training documents
 * @param tokenizer    {@code byte} or the path of a Hugging Face {@code tokenizer.json}
 * @param context      inputs per sequence; each sequence holds context + 1 tokens
 * @param delimiter    a line that separates documents within a file (e.g. {@code %}); empty: one document per file
 * @param testFraction the fraction of documents held out when {@code test} is empty, in (0, 1)
 * @param institutes   each institute and the location its share is written to
 * @param scheme       {@link Scheme#IID} or {@link Scheme#DOCUMENT}
 * @param seed         makes the held-out choice and the partition reproducible
 * @param trainSubset  training sequences to keep (0: all), drawn from each institute's share in proportion
 * @param testLocation where the held-out sequences are written
 * @param overwrite    replace existing output locations instead of refusing
 */
public record TextSpec(String dataset, List<String> train, List<String> test, String tokenizer, int context,
                       String delimiter, double testFraction, List<PrepareSpec.Target> institutes, Scheme scheme,
                       long seed, int trainSubset, String testLocation, boolean overwrite) {
    public static final String KEY_TOKENIZER = "data.tokenizer";
    public static final String KEY_CONTEXT = "data.context";
    public static final String KEY_DELIMITER = "data.delimiter";
    public static final String KEY_TEST_FRACTION = "data.test-fraction";

    public TextSpec {
        train = train == null ? List.of() : List.copyOf(train);
        test = test == null ? List.of() : List.copyOf(test);
        institutes = institutes == null ? List.of() : List.copyOf(institutes);
        delimiter = delimiter == null ? "" : delimiter;
    }

    /**
     * How sequences are split among institutes: {@code iid} shuffles all sequences across institutes;
     * {@code document} keeps each source document at one institute, giving each institute a contiguous run of
     * the corpus's documents (so institutes hold different files' kinds of text).
     */
    public enum Scheme {
        IID, DOCUMENT;

        public static Scheme parse(String s) {
            for (Scheme e : values()) {
                if (e.toString().equals(s == null ? null : s.trim().toLowerCase(Locale.ROOT))) {
                    return e;
                }
            }
            throw new DataException(PrepareSpec.KEY_SCHEME + " must be one of " + java.util.Arrays.toString(values())
                    + " for text, got '" + s + "'");
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }
}
