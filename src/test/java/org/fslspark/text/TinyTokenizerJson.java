package org.fslspark.text;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a small byte-level BPE {@code tokenizer.json} in Hugging Face's format (the scheme GPT-2
 * uses), made up here so tests need no download: a token per byte (ids 0..255, each byte shown as
 * the printable character GPT-2's byte-to-unicode table assigns it), two merges ("t h" -> "th" 256,
 * "th e" -> "the" 257), no id 258, and an added special token {@code <|endoftext|>} with id 259.
 */
public final class TinyTokenizerJson {
    public static final int THE = 257;
    static final int GAP = 258;
    public static final int VOCAB_SIZE = 260;

    private TinyTokenizerJson() {
    }

    /** GPT-2's byte-to-unicode map: printable bytes stand for themselves, the others get code points from 256 on. */
    private static String byteSymbol(int b) {
        boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        if (printable) {
            return String.valueOf((char) b);
        }
        int n = 0;
        for (int c = 0; c < b; c++) {
            boolean p = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
            n += p ? 0 : 1;
        }
        return String.valueOf((char) (256 + n));
    }

    static JsonObject json() {
        JsonObject vocab = new JsonObject();
        for (int b = 0; b < 256; b++) {
            vocab.addProperty(byteSymbol(b), b);
        }
        vocab.addProperty("th", 256);
        vocab.addProperty("the", THE);
        JsonArray merges = new JsonArray();
        merges.add("t h");
        merges.add("th e");
        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        model.add("dropout", JsonNull.INSTANCE);
        model.add("unk_token", JsonNull.INSTANCE);
        model.addProperty("fuse_unk", false);
        model.addProperty("byte_fallback", false);
        model.add("vocab", vocab);
        model.add("merges", merges);

        JsonObject byteLevel = new JsonObject();
        byteLevel.addProperty("type", "ByteLevel");
        byteLevel.addProperty("add_prefix_space", false);
        byteLevel.addProperty("trim_offsets", true);
        byteLevel.addProperty("use_regex", true);

        JsonObject endOfText = new JsonObject();
        endOfText.addProperty("id", 259);
        endOfText.addProperty("content", "<|endoftext|>");
        endOfText.addProperty("single_word", false);
        endOfText.addProperty("lstrip", false);
        endOfText.addProperty("rstrip", false);
        endOfText.addProperty("normalized", false);
        endOfText.addProperty("special", true);
        JsonArray added = new JsonArray();
        added.add(endOfText);

        JsonObject root = new JsonObject();
        root.addProperty("version", "1.0");
        root.add("truncation", JsonNull.INSTANCE);
        root.add("padding", JsonNull.INSTANCE);
        root.add("added_tokens", added);
        root.add("normalizer", JsonNull.INSTANCE);
        root.add("pre_tokenizer", byteLevel);
        root.add("post_processor", JsonNull.INSTANCE);
        root.add("decoder", byteLevel);
        root.add("model", model);
        return root;
    }

    public static Path write(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        return Files.writeString(file, json().toString());
    }
}
