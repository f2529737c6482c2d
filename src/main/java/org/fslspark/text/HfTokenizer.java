package org.fslspark.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Hugging Face {@code tokenizer.json} (BPE, WordPiece, Unigram, ...) through DJL's binding of the
 * Rust {@code tokenizers} library ({@code ai.djl.huggingface:tokenizers}). The jar carries the
 * native library for linux-x86_64 and extracts it to DJL's cache ({@code ~/.djl.ai}, or
 * {@code DJL_CACHE_DIR}); DJL runs in offline mode, so nothing is downloaded, and the file is read
 * from the local path given.
 *
 * <p>Encoding adds no special tokens and never truncates: DJL's default is to truncate to 512
 * tokens without a word (checked: 8,000 characters came back as exactly 512 ids), which would
 * silently cut documents. The vocabulary size is read from the file (the largest id of the model's
 * vocabulary and the added tokens, plus one), and decoding refuses ids the file does not define,
 * which the library would silently drop.
 */
public final class HfTokenizer implements Tokenizer, AutoCloseable {
    static {
        // DJL falls back to downloading its native library when the jar lacks one for this platform;
        // offline mode turns that into an error (nothing may be downloaded at run time).
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
    }

    private final String file;
    private final String json;
    private final HuggingFaceTokenizer tokenizer;
    private final boolean[] known;

    private HfTokenizer(String file, String json, HuggingFaceTokenizer tokenizer, boolean[] known) {
        this.file = file;
        this.json = json;
        this.tokenizer = tokenizer;
        this.known = known;
    }

    /** Loads a local {@code tokenizer.json}; a missing, empty or invalid file is refused, naming the file. */
    public static HfTokenizer load(Path file) {
        Objects.requireNonNull(file, "file");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("tokenizer file " + file + " does not exist or is not a regular file");
        }
        String json;
        try {
            json = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("tokenizer file " + file + " cannot be read: " + e.getMessage(), e);
        }
        return parse(json, file.toString());
    }

    /** A tokenizer from the contents of a tokenizer.json ({@code file} names where they came from, for messages). */
    public static HfTokenizer parse(String json, String file) {
        if (json.isBlank()) {
            throw new IllegalArgumentException("tokenizer file " + file + " is empty");
        }
        boolean[] known = knownIds(file, json);
        try {
            // DJL reads its options as strings; "false" turns truncation and padding off.
            HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(
                    new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)),
                    Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
            return new HfTokenizer(file, json, t, known);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("tokenizer file " + file + " is not a valid tokenizer.json: " + e.getMessage(), e);
        }
    }

    /** Which ids the file defines: those of {@code model.vocab} (token to id, or Unigram's list) and {@code added_tokens}. */
    private static boolean[] knownIds(String file, String json) {
        List<Integer> ids;
        try {
            ids = ids(JsonParser.parseString(json).getAsJsonObject());
        } catch (RuntimeException e) { // syntax errors, and ids or objects of the wrong JSON type
            throw new IllegalArgumentException("tokenizer file " + file + " is not a valid tokenizer.json: " + e.getMessage(), e);
        }
        if (ids == null) {
            throw new IllegalArgumentException("tokenizer file " + file + " has no model.vocab");
        }
        int max = ids.stream().mapToInt(Integer::intValue).max().orElse(-1);
        if (max < 0 || ids.stream().anyMatch(i -> i < 0)) {
            throw new IllegalArgumentException("tokenizer file " + file + " defines no tokens or a negative id");
        }
        boolean[] known = new boolean[max + 1];
        for (int id : ids) {
            known[id] = true;
        }
        return known;
    }

    /** The ids in a parsed tokenizer.json, or null if it has no {@code model.vocab}. */
    private static List<Integer> ids(JsonObject root) {
        JsonElement model = root.get("model");
        JsonElement vocab = model != null && model.isJsonObject() ? model.getAsJsonObject().get("vocab") : null;
        if (vocab == null) {
            return null;
        }
        List<Integer> ids = new ArrayList<>();
        if (vocab.isJsonArray()) {
            for (int i = 0; i < vocab.getAsJsonArray().size(); i++) {
                ids.add(i);
            }
        } else {
            for (Map.Entry<String, JsonElement> e : vocab.getAsJsonObject().entrySet()) {
                ids.add(e.getValue().getAsInt());
            }
        }
        JsonElement added = root.get("added_tokens");
        if (added != null) {
            for (JsonElement token : added.getAsJsonArray()) {
                ids.add(token.getAsJsonObject().get("id").getAsInt());
            }
        }
        return ids;
    }

    @Override
    public int[] encode(String text) {
        Unicode.utf8(text); // refuses unpaired surrogates, which the native side would mangle
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        Objects.requireNonNull(ids, "ids");
        long[] asLong = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            Unicode.checkId(ids, i, known.length);
            if (!known[ids[i]]) {
                throw new IllegalArgumentException("unknown token id " + ids[i] + " at position " + i
                        + " (not defined in " + file + ")");
            }
            asLong[i] = ids[i];
        }
        return tokenizer.decode(asLong, false);
    }

    /** The tokenizer.json this tokenizer was read from (a checkpoint keeps a copy). */
    public String json() {
        return json;
    }

    @Override
    public int vocabSize() {
        return known.length;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
