package org.fslspark.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * A deterministic source of learnable text for tests: sentences of a small seeded grammar
 * ({@code subject verb object [adverb].}), in a few kinds with their own words, so that documents of different
 * kinds are different text (for partitioning by document) while a tiny language model can learn each kind's
 * spelling and word order within a few rounds. Same arguments, same text.
 */
public final class SyntheticText {
    private static final String[][][] KINDS = {
            {{"the cat", "a dog", "the bird", "my fox"}, {"sees", "chases", "likes", "finds"},
                    {"the mouse", "a ball", "the tree", "some fish"}, {"today", "again", "slowly"}},
            {{"the ship", "a boat", "our crew", "the captain"}, {"sails to", "leaves", "reaches", "passes"},
                    {"the harbor", "an island", "the coast", "a lighthouse"}, {"at dawn", "by night", "in a storm"}},
            {{"the server", "a client", "each node", "the model"}, {"sends", "receives", "averages", "updates"},
                    {"the weights", "a gradient", "the batch", "its loss"}, {"every round", "at once", "quickly"}},
    };

    private SyntheticText() {
    }

    /** Number of kinds of text. */
    public static int kinds() {
        return KINDS.length;
    }

    /** One document of {@code sentences} sentences of the given kind. */
    public static String document(int kind, int sentences, Random rng) {
        String[][] k = KINDS[Math.floorMod(kind, KINDS.length)];
        StringBuilder b = new StringBuilder();
        for (int s = 0; s < sentences; s++) {
            String subject = k[0][rng.nextInt(k[0].length)];
            b.append(Character.toUpperCase(subject.charAt(0))).append(subject.substring(1)).append(' ')
                    .append(k[1][rng.nextInt(k[1].length)]).append(' ').append(k[2][rng.nextInt(k[2].length)]);
            if (rng.nextInt(3) == 0) {
                b.append(' ').append(k[3][rng.nextInt(k[3].length)]);
            }
            b.append(s % 4 == 3 ? ".\n" : ". ");
        }
        return b.toString().strip() + "\n";
    }

    /**
     * {@code count} documents; document i is of kind {@code i * kinds / count} (kinds in contiguous runs), so a
     * partition by document gives institutes different kinds of text.
     */
    public static List<String> documents(int count, int sentences, int kinds, long seed) {
        Random rng = new Random(seed);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(document((int) ((long) i * kinds / count), sentences, rng));
        }
        return out;
    }

    /** Writes each document to {@code dir/doc-NNNN.txt}; returns the directory. */
    public static Path writeFiles(Path dir, List<String> documents) throws IOException {
        Files.createDirectories(dir);
        for (int i = 0; i < documents.size(); i++) {
            Files.writeString(dir.resolve(String.format(Locale.ROOT, "doc-%04d.txt", i)), documents.get(i),
                    StandardCharsets.UTF_8);
        }
        return dir;
    }

    /** Writes the documents to one file, separated by lines holding only {@code delimiter}. */
    public static Path writeDelimited(Path file, List<String> documents, String delimiter) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, String.join(delimiter + "\n", documents), StandardCharsets.UTF_8);
        return file;
    }
}
