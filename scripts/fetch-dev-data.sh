#!/usr/bin/env bash
# Lays out earmark's development data under data/dev/ from Debian packages only:
#
#   data/dev/music/<package>/...   music to index and train on
#   data/dev/noise/<source>/...    background noise: game ambiences and espeak-ng babble
#   data/dev/noise-val/<source>/... noise for validation only (never trained on)
#   data/dev/rir/<source>/...      measured room impulse responses (mono WAV)
#   data/dev/licences/<package>/   each package's copyright file (and credits where shipped)
#
# Packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x` into a cache
# directory; nothing is installed system-wide except the tools (sox, espeak-ng) when missing.
# Files are symlinked from the cache (or copied with --copy); files that need processing
# (looped tracks cut to one period, stereo RIRs split, babble) are written as WAV.
# Safe to re-run: every step skips what is already there. Needs root (or sudo) only for
# `apt-get update` and installing the tools.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/fetch-dev-data.sh [options]

  --music-only       lay out music only (no noise, babble or impulse responses)
  --no-supertuxkart  skip supertuxkart-data (a 630 MB download for ~50 min of music)
  --no-0ad           skip 0ad-data (a 1.4 GB download for 2.9 h of music and 29 min of noise)
  --no-strategy      skip widelands-data, warzone2100-music and freedroidrpg-data
                     (a 700 MB download for 6.3 h of music)
  --copy             copy files out of the cache instead of symlinking them
  --cache DIR        where .deb files are downloaded and unpacked
                     (default: $EARMARK_DEV_CACHE or ~/.cache/earmark/dev-data)
  --out DIR          where to lay out the data (default: <repo>/data/dev)
  -h, --help         this text
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${EARMARK_DEV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/earmark/dev-data}
out=$repo/data/dev
music_only=0
supertuxkart=1
zero_ad=1
strategy=1
copy=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --music-only) music_only=1 ;;
        --no-supertuxkart) supertuxkart=0 ;;
        --no-0ad) zero_ad=0 ;;
        --no-strategy) strategy=0 ;;
        --copy) copy=1 ;;
        --cache) cache=${2:?--cache needs a directory}; shift ;;
        --out) out=${2:?--out needs a directory}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "fetch-dev-data: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'fetch-dev-data: error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "'$*' needs root; run this script as root or install sudo"
    fi
}

if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    die "apt-get and dpkg-deb are needed (a Debian or Ubuntu system)"
fi

# --- Tools -------------------------------------------------------------------------------
tools=(sox libsox-fmt-all)
[[ $music_only -eq 1 ]] || tools+=(espeak-ng)
[[ $music_only -eq 1 && $zero_ad -eq 0 ]] || tools+=(unzip)
# sox reads no Opus (Warzone 2100's music): opusdec decodes it for the silence check and
# opusinfo reads its rate, channels and length for the summary.
[[ $strategy -eq 0 ]] || tools+=(opus-tools)
missing_tools=()
for t in "${tools[@]}"; do
    dpkg-query -W -f='${Status}' "$t" 2>/dev/null | grep -q 'install ok installed' || missing_tools+=("$t")
done

# --- Packages ----------------------------------------------------------------------------
music_packages=(wesnoth-1.16-music planetblupi-music-ogg hyperrogue-music asc-music)
[[ $supertuxkart -eq 1 ]] && music_packages+=(supertuxkart-data)
[[ $zero_ad -eq 1 ]] && music_packages+=(0ad-data)
[[ $strategy -eq 1 ]] && music_packages+=(widelands-data warzone2100-music freedroidrpg-data)
other_packages=()
[[ $music_only -eq 1 ]] || other_packages=(wesnoth-1.16-data flare-game lincity-ng-data megaglest-data
    scorched3d-data lugaru-data extremetuxracer-data trigger-rally-data endless-sky-data
    jconvolver-config-files guitarix-common)
packages=("${music_packages[@]}" "${other_packages[@]}")

# apt-cache knows nothing before the first `apt-get update`: update once if needed.
needs_update=0
for p in "${packages[@]}" "${missing_tools[@]}"; do
    apt-cache show "$p" >/dev/null 2>&1 || needs_update=1
done
if [[ $needs_update -eq 1 ]]; then
    say "apt-get update (some packages are unknown to apt-cache)"
    as_root apt-get update -qq
fi
if [[ ${#missing_tools[@]} -gt 0 ]]; then
    say "installing tools: ${missing_tools[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing_tools[@]}" >/dev/null
fi

mkdir -p "$cache/debs" "$cache/unpacked" "$out"
# The directory a package is unpacked into; downloads and unpacks it on first use.
unpacked() {
    local p=$1 dir=$cache/unpacked/$1
    if [[ ! -e $dir/.done ]]; then
        local deb
        deb=$(find "$cache/debs" -maxdepth 1 -name "${p}_*.deb" -print -quit)
        if [[ -z $deb ]]; then
            local size
            size=$(apt-cache show "$p" | awk '/^Size:/ {printf "%.0f MB", $2 / 1e6; exit}')
            say "downloading $p ($size)" >&2
            # Downloaded into partial/ and moved, so that an interrupted download is redone.
            # (apt warns that it downloads as root into a directory _apt cannot read: harmless.)
            rm -rf "$cache/debs/partial"
            mkdir -p "$cache/debs/partial"
            if ! (cd "$cache/debs/partial" && apt-get download -q "$p") 2>&1 |
                { grep -v '^W: Download is performed unsandboxed' || true; } >&2; then
                die "apt-get download $p failed"
            fi
            mv "$cache/debs/partial/${p}_"*.deb "$cache/debs/"
            rmdir "$cache/debs/partial"
            deb=$(find "$cache/debs" -maxdepth 1 -name "${p}_*.deb" -print -quit)
        fi
        say "unpacking $p" >&2
        rm -rf "$dir"
        mkdir -p "$dir"
        dpkg-deb -x "$deb" "$dir"
        touch "$dir/.done"
    fi
    printf '%s\n' "$dir"
}

# unzipped NAME ZIP MEMBER...: the cache directory NAME that MEMBER... (unzip patterns) of
# ZIP are extracted into, on first use.
unzipped() {
    local dir=$cache/unpacked/$1 zip=$2
    shift 2
    if [[ ! -e $dir/.done ]]; then
        rm -rf "$dir"
        unzip -q -o "$zip" "$@" -d "$dir"
        touch "$dir/.done"
    fi
    printf '%s\n' "$dir"
}

# place SRC DEST: links (or copies) SRC to DEST unless DEST exists.
place() {
    local src=$1 dest=$2
    [[ -e $dest ]] && return 0
    mkdir -p "$(dirname "$dest")"
    if [[ $copy -eq 1 ]]; then cp "$src" "$dest"; else ln -s "$src" "$dest"; fi
}

# sox's `stat` report on an audio file; Opus is decoded by opusdec first.
stat_of() {
    if [[ $1 == *.opus ]]; then
        opusdec --quiet --force-wav "$1" - 2>/dev/null | sox -t wav - -n stat 2>&1
    else
        sox "$1" -n stat 2>&1
    fi
}

# Peak absolute amplitude of an audio file (0..1).
peak() {
    stat_of "$1" | awk '/^Maximum amplitude/ {mx = $3} /^Minimum amplitude/ {mn = -$3}
        END {print (mx > mn ? mx : mn)}'
}

# Anything whose peak is below -60 dBFS is treated as silent: peak normalisation would
# blow its dither noise up to full scale.
SILENT_PEAK=0.001

# place_audio SRC DEST: like place, but skips (and reports) silent files.
place_audio() {
    local src=$1 dest=$2
    [[ -e $dest ]] && return 0
    local p
    p=$(peak "$src")
    if awk -v p="$p" -v t="$SILENT_PEAK" 'BEGIN {exit !(p < t)}'; then
        note "skipped ${src##*/}: silent (peak amplitude $p)"
        return 0
    fi
    place "$src" "$dest"
}

# place_audio_if_long SECONDS SRC DEST: place_audio for files at least SECONDS long.
place_audio_if_long() {
    if awk -v s="$(soxi -D "$2")" -v min="$1" 'BEGIN {exit !(s >= min)}'; then
        place_audio "$2" "$3"
    fi
}

# copy_once SRC DEST: copies SRC to DEST unless DEST exists.
copy_once() {
    [[ -e $2 ]] || { mkdir -p "$(dirname "$2")" && cp "$1" "$2"; }
}

# licence PACKAGE DIR: keeps the package's copyright file under licences/.
licence() {
    copy_once "$2/usr/share/doc/$1/copyright" "$out/licences/$1/copyright"
}

# --- Music -------------------------------------------------------------------------------
say "music"
d=$(unpacked wesnoth-1.16-music)
licence wesnoth-1.16-music "$d"
# Includes short stingers (victory, defeat: 3-21 s). silence.ogg (10 s, peak -78 dBFS)
# is dropped by the silence check.
for f in "$d"/usr/share/games/wesnoth/1.16/data/core/music/*.ogg; do
    place_audio "$f" "$out/music/wesnoth-1.16-music/${f##*/}"
done

d=$(unpacked planetblupi-music-ogg)
licence planetblupi-music-ogg "$d"
# music000-003 repeat one loop from their first second to the end, ~10 times (measured by
# cross-correlation: 1 s windows t and t + period correlate at 0.97-0.99). A repeated loop
# makes the position inside the track ambiguous, so they are cut to their first period.
declare -A loop_period_s=([music000]=152 [music001]=176 [music002]=152 [music003]=120)
for f in "$d"/usr/share/planetblupi/music/*.ogg; do
    name=$(basename "$f" .ogg)
    if [[ -n ${loop_period_s[$name]:-} ]]; then
        dest=$out/music/planetblupi-music-ogg/$name-first-loop.wav
        if [[ ! -e $dest ]]; then
            mkdir -p "$(dirname "$dest")"
            sox "$f" -b 16 "$dest.part.wav" trim 0 "${loop_period_s[$name]}"
            mv "$dest.part.wav" "$dest"
            note "$name.ogg: kept its first ${loop_period_s[$name]} s (one loop period)"
        fi
    else
        place_audio "$f" "$out/music/planetblupi-music-ogg/${f##*/}"
    fi
done

d=$(unpacked hyperrogue-music)
licence hyperrogue-music "$d"
copy_once "$d/usr/share/hyperrogue/hyperrogue-music.txt" "$out/licences/hyperrogue-music/hyperrogue-music.txt"
for f in "$d"/usr/share/hyperrogue/music/*.ogg; do
    place_audio "$f" "$out/music/hyperrogue-music/${f##*/}"
done

d=$(unpacked asc-music)
licence asc-music "$d"
for f in "$d"/usr/share/games/asc/music/*.mp3; do
    place_audio "$f" "$out/music/asc-music/${f##*/}"
done

if [[ $supertuxkart -eq 1 ]]; then
    d=$(unpacked supertuxkart-data)
    licence supertuxkart-data "$d"
    copy_once "$d/usr/share/games/supertuxkart/data/CREDITS" "$out/licences/supertuxkart-data/CREDITS"
    # *_fast / *_f are the same pieces played faster for a race's last lap: near-duplicates
    # of another track, so left out.
    for f in "$d"/usr/share/games/supertuxkart/data/music/*.ogg; do
        case ${f##*/} in
            *_fast.ogg | *_f.ogg)
                [[ -e $out/music/supertuxkart-data/${f##*/} ]] || note "left out ${f##*/} (a faster copy of another track)"
                continue
                ;;
        esac
        place_audio "$f" "$out/music/supertuxkart-data/${f##*/}"
    done
fi

if [[ $zero_ad -eq 1 ]]; then
    d=$(unpacked 0ad-data)
    licence 0ad-data "$d"
    # 0 A.D.'s soundtrack: 61 orchestral pieces, 2.9 h, packed in the game's 3 GB
    # public.zip, from which only audio/music/*.ogg is extracted.
    music=$(unzipped 0ad-music "$d/usr/share/games/0ad/mods/public/public.zip" 'audio/music/*.ogg')
    for f in "$music"/audio/music/*.ogg; do
        place_audio "$f" "$out/music/0ad-data/${f##*/}"
    done
fi

if [[ $strategy -eq 1 ]]; then
    # Three more games' soundtracks, 6.3 h in all (stage 9 of the shipped model trained on
    # them): Widelands (30 pieces), Warzone 2100 (28, Opus) and FreedroidRPG (16).
    d=$(unpacked widelands-data)
    licence widelands-data "$d"
    # menu.ogg is a byte copy of ingame_14.ogg, so left out.
    for f in "$d"/usr/share/games/widelands/data/music/*.ogg; do
        [[ ${f##*/} == menu.ogg ]] && continue
        place_audio "$f" "$out/music/widelands-data/${f##*/}"
    done

    d=$(unpacked warzone2100-music)
    licence warzone2100-music "$d"
    # Three albums whose files share names (track*.opus), so each is prefixed with its
    # album. The original album's track3 and the top-level menu.opus are left out beside
    # their remastered versions (aftermath's track3_enhanced and menu_enhanced).
    wz=$d/usr/share/games/warzone2100/music/albums
    for f in "$wz"/*/*.opus; do
        album=${f%/*}
        album=${album##*/}
        album=${album%_soundtrack}
        [[ $album/${f##*/} == original/track3.opus ]] && continue
        place_audio "$f" "$out/music/warzone2100-music/$album-${f##*/}"
    done
    for f in "$wz"/*/license.txt; do
        album=${f%/*}
        copy_once "$f" "$out/licences/warzone2100-music/${album##*/}-license.txt"
    done

    d=$(unpacked freedroidrpg-data)
    licence freedroidrpg-data "$d"
    for f in "$d"/usr/share/freedroidrpg/data/sound/music/*.ogg; do
        place_audio "$f" "$out/music/freedroidrpg-data/${f##*/}"
    done
fi

if [[ $music_only -eq 0 ]]; then
    # --- Noise ---------------------------------------------------------------------------
    say "noise"
    d=$(unpacked wesnoth-1.16-data)
    licence wesnoth-1.16-data "$d"
    # The ambient loops; wardrums.ogg is drum music rather than background, so left out.
    for f in "$d"/usr/share/games/wesnoth/1.16/data/core/sounds/ambient/*.ogg; do
        [[ ${f##*/} == wardrums.ogg ]] && continue
        place_audio "$f" "$out/noise/wesnoth/${f##*/}"
    done

    d=$(unpacked flare-game)
    licence flare-game "$d"
    copy_once "$d/usr/share/games/flare/mods/fantasycore/cutscenes/credits.txt" "$out/licences/flare-game/credits.txt"
    # The environment loops (birds, wind, river, fire, cave, anvil), the rain and the
    # ambient wind track; not the one-shot effects (doors, stairs, teleporter).
    flare=$d/usr/share/games/flare/mods
    for f in "$flare"/fantasycore/soundfx/environment/*_loop.ogg \
        "$flare"/empyrean_campaign/soundfx/environment/rain.ogg \
        "$flare"/fantasycore/music/wind_ambient.ogg; do
        place_audio "$f" "$out/noise/flare/${f##*/}"
    done

    d=$(unpacked lincity-ng-data)
    licence lincity-ng-data "$d"
    # The city's ambient loops (traffic, crowds, industry, water, farms, ...), ~4 s each:
    # everything at least 3 s long except the event sounds (building, razing, rockets
    # taking off or exploding) and the interface clicks, which are all shorter anyway.
    for f in "$d"/usr/share/games/lincity-ng/sounds/*.wav; do
        case ${f##*/} in
            Build* | Raze* | RocketExplosion* | RocketTakeoff* | Click* | Window*) continue ;;
        esac
        place_audio_if_long 3.0 "$f" "$out/noise/lincity/${f##*/}"
    done

    d=$(unpacked megaglest-data)
    licence megaglest-data "$d"
    # The tilesets' ambiences (birdsong by day, crickets by night, rain, wind, a hellish
    # drone), each once: tilesets that share a file hold a symlink to it. Not the one-shot
    # animal calls (wolf, chicken, owl, hawk, ...).
    for f in "$d"/usr/share/games/megaglest/tilesets/*/sounds/*; do
        [[ -L $f ]] && continue
        case ${f##*/} in
            day.* | night.* | nightime.* | sunny_day.* | desertday.* | rain.* | wind.* | hell.*)
                tileset=${f%/sounds/*}
                place_audio "$f" "$out/noise/megaglest/${tileset##*/}-${f##*/}"
                ;;
        esac
    done

    if [[ $zero_ad -eq 1 ]]; then
        d=$(unpacked 0ad-data)
        # 0 A.D.'s ambiences (farms, ports and markets, temperate and tropical days, rivers,
        # waves, rain, snowstorm, thunder, wind): 42 recordings, 29 min, packed in the game's
        # 3 GB public.zip, from which only audio/ambient/*/*.ogg is extracted.
        ambient=$(unzipped 0ad-ambient "$d/usr/share/games/0ad/mods/public/public.zip" \
            'audio/ambient/*/*.ogg')
        for f in "$ambient"/audio/ambient/*/*.ogg; do
            kind=${f%/*}
            place_audio "$f" "$out/noise/0ad/${kind##*/}-${f##*/}"
        done
    fi

    # Stage 6's recordings, 12 min from five games (GPL-2+, CC-BY-SA, CC0): Scorched 3D's
    # loops of at least 4 s (birds, frogs, ocean waves, rain, thunder, lava, a crowd, a
    # city, a factory, sirens, jets, helicopters, light aircraft; most at 11 kHz, so
    # band-limited), Lugaru's desert and wind ambiences and fire, Extreme Tux Racer's
    # slides over snow, ice, grass, leaves, mud and rock, Trigger Rally's engine, gravel
    # and wind loops (in its data.zip), and Endless Sky's machinery ambience (MP3).
    d=$(unpacked scorched3d-data)
    licence scorched3d-data "$d"
    for f in "$d"/usr/share/games/scorched3d/data/globalmods/*/data/wav/misc/*.wav; do
        case ${f##*/} in
            beep* | rocket.wav | teleport.wav | laserdeath.wav | riftcollapse.wav) continue ;;
        esac
        place_audio_if_long 4.0 "$f" "$out/noise/scorched3d/${f##*/}"
    done
    d=$(unpacked lugaru-data)
    licence lugaru-data "$d"
    for f in DesertAmbient Wind Fire; do
        place_audio "$d/usr/share/games/lugaru/Sounds/$f.ogg" "$out/noise/lugaru/$f.ogg"
    done
    d=$(unpacked extremetuxracer-data)
    licence extremetuxracer-data "$d"
    for f in "$d"/usr/share/games/etr/sounds/*_slide.wav; do
        place_audio "$f" "$out/noise/extremetuxracer/${f##*/}"
    done
    d=$(unpacked trigger-rally-data)
    licence trigger-rally-data "$d"
    rally=$(unzipped trigger-rally-sounds "$d/usr/share/games/trigger-rally/data.zip" \
        sounds/engine.wav sounds/gravel.wav sounds/wind.wav)
    for f in "$rally"/sounds/*.wav; do
        place_audio "$f" "$out/noise/trigger-rally/${f##*/}"
    done
    d=$(unpacked endless-sky-data)
    licence endless-sky-data "$d"
    place_audio "$d/usr/share/games/endless-sky/sounds/ambient/machinery.mp3" \
        "$out/noise/endless-sky/machinery.mp3"

    # Speech babble: espeak-ng talkers (voices, variants, rates and pitches all differ)
    # reading different sentences, started at staggered times and mixed.
    sentences=(
        "The committee will meet again on Thursday to discuss the budget for next year."
        "I told him twice that the train leaves at seven, but he still missed it."
        "Could you pass me the salt and the pepper, and maybe some of that bread?"
        "Prices in the market went up again this week, mostly for fruit and vegetables."
        "She has been working on the same painting for almost three months now."
        "We should leave early if we want to find a parking space near the stadium."
        "The weather forecast says it will rain all afternoon and clear up by night."
        "Nobody knows exactly where the old map came from or who drew it."
        "After the concert we walked along the river and talked until midnight."
        "Please remember to switch off the lights and lock the back door."
        "The new library opens on Monday, with a reading room on every floor."
        "He ordered coffee, changed his mind, and asked for a pot of green tea instead."
    )
    voices=(en-us en-gb en-gb-scotland en-029 en-gb-x-rp en-gb-x-gbclan en-gb-x-gbcwmd)
    variants=(m1 f1 m3 f2 m5 f3 m2 f4 m7 f5 m4 m6)
    babble_seconds=30
    # babble DEST TALKERS: TALKERS voices of $voices read $sentences, mixed, 30 s.
    babble() {
        local dest=$1 talkers=$2
        [[ -e $dest ]] && return 0
        local tmp t s text voice rate pitch
        tmp=$(mktemp -d)
        local parts=()
        for ((t = 0; t < talkers; t++)); do
            # Each talker reads all sentences from a different starting one, which is
            # longer than the clip, so that nobody falls silent before its end.
            text=""
            for ((s = 0; s < ${#sentences[@]}; s++)); do
                text+="${sentences[$(((s + 5 * t + talkers) % ${#sentences[@]}))]} "
            done
            voice=${voices[$(((t + talkers) % ${#voices[@]}))]}+${variants[$(((3 * t + talkers) % ${#variants[@]}))]}
            rate=$((140 + (37 * t + 11 * talkers) % 60)) # words per minute
            pitch=$((25 + (29 * t + 7 * talkers) % 50))  # espeak pitch, 0-99
            espeak-ng -v "$voice" -s "$rate" -p "$pitch" -w "$tmp/raw$t.wav" "$text"
            # Staggered starts (0-1.8 s) so that sentence starts do not line up.
            sox "$tmp/raw$t.wav" -r 22050 -c 1 "$tmp/talker$t.wav" pad "$(((7 * t) % 19 / 10)).$(((7 * t) % 19 % 10))"
            parts+=("$tmp/talker$t.wav")
        done
        mkdir -p "$(dirname "$dest")"
        sox -m "${parts[@]}" "$tmp/mix.wav" trim 0 "$babble_seconds"
        sox "$tmp/mix.wav" -b 16 "$dest.part.wav" norm -1
        mv "$dest.part.wav" "$dest"
        rm -rf "$tmp"
        note "babble: ${dest##*/}, $talkers talkers, ${babble_seconds} s"
    }
    for talkers in 4 6 8 10; do
        babble "$out/noise/babble/babble-${talkers}-talkers.wav" "$talkers"
    done
    # Talkers of other languages reading the same text: other phonemes, other rhythms.
    voices=(pt pl sv cs hu ro ru)
    for talkers in 5 7; do
        babble "$out/noise/babble/babble-intl-${talkers}-talkers.wav" "$talkers"
    done

    if [[ $supertuxkart -eq 1 ]]; then
        d=$(unpacked supertuxkart-data)
        stk=$d/usr/share/games/supertuxkart/data
        # Broadband effects and ambiences (engines, crowds, water, rain, a PA announcement),
        # which the sparse loops above lack; not the jingles, which are music.
        for name in sara_airport_pa spaceship lenautile_restaurant waterfall_loop_2 goal_scored \
            tractor_beam nitro dark metal_clang break engine_small rain skid car_revup \
            bowling_roll car_accel thunder splash; do
            place_audio "$stk/sfx/$name.ogg" "$out/noise/supertuxkart/$name.ogg"
        done

        # --- Validation noise: never trained on ---------------------------------------------
        # `earmark train --val-noise data/dev/noise-val` validates on these, so that the
        # noise columns measure noise the model never heard: twelve other supertuxkart
        # effects and babble in other languages reading other sentences.
        say "validation noise"
        for f in "$stk"/sfx/{river_loop,exotic-birds,exotic-birds_2,airplane_jetEngine,machine_sound,static-radio,engine_large,fireworks_show,wooden_bridge,clock}.ogg \
            "$stk"/tracks/black_forest/steamLocomotive.ogg "$stk"/tracks/introcutscene/spaceship_engine.ogg; do
            place_audio "$f" "$out/noise-val/supertuxkart/${f##*/}"
        done
        sentences=(
            "The harbour was quiet that morning, and the fishing boats had not yet returned."
            "Our neighbours are planning a small party for their daughter's graduation."
            "If the bridge is closed again, we will have to take the long road around the lake."
            "The museum has a new exhibition of old clocks, some of them still working."
            "He wrote three letters to the council before anyone answered him."
            "Most of the apples this year went to the juice factory near the station."
            "The children built a snowman in the garden and gave it a red scarf."
            "Tickets for the evening show sold out within an hour of going on sale."
        )
        voices=(en-us de fr es it nl)
        babble "$out/noise-val/babble/babble-val-6-talkers.wav" 6
    fi

    # --- Room impulse responses ----------------------------------------------------------
    say "room impulse responses"
    # rir SRC CHANNEL DEST: writes one channel of SRC as a mono 32-bit float WAV with a
    # plain header (jconvolver's files lack the fmt chunk's cbSize field, which strict
    # readers refuse), unless DEST exists.
    rir() {
        [[ -e $3 ]] && return 0
        mkdir -p "$(dirname "$3")"
        sox "$1" -e floating-point -b 32 "$3.part.wav" remix "$2" 2>/dev/null
        mv "$3.part.wav" "$3"
    }
    d=$(unpacked jconvolver-config-files)
    licence jconvolver-config-files "$d"
    # The package's only measured room response: a street, 0.39 s, 48 kHz, as two mono
    # files. The other WAVs there are octave-band and crosstalk filters, not rooms; the
    # configurations reference further halls that are not shipped.
    for f in "$d"/usr/share/jconvolver/config-files/demo-reverbs/street2-[LR].wav; do
        rir "$f" 1 "$out/rir/jconvolver/${f##*/}"
    done

    d=$(unpacked guitarix-common)
    licence guitarix-common "$d"
    # greathall.wav: a stereo hall response (48 kHz, 2.35 s, RT60 about 2.2 s); each
    # channel is a separate measurement, so it is split into two mono files. (sounds/amps
    # and sounds/bands are guitar-cabinet and tone filters, not rooms.)
    hall=$d/usr/share/gx_head/sounds/greathall.wav
    rir "$hall" 1 "$out/rir/guitarix/greathall-L.wav"
    rir "$hall" 2 "$out/rir/guitarix/greathall-R.wav"
fi

# --- Summary -----------------------------------------------------------------------------
say "laid out in $out"
printf '%-30s %5s %9s %8s  %s\n' folder files total "mean (s)" "formats (count × type rate/channels)"
while IFS= read -r dir; do
    files=()
    while IFS= read -r -d '' f; do files+=("$f"); done < <(find -L "$dir" -maxdepth 1 -type f -print0 | sort -z)
    [[ ${#files[@]} -gt 0 ]] || continue
    for f in "${files[@]}"; do
        if [[ $f == *.opus ]]; then
            # (opusinfo exits 1 on harmless warnings such as a granule count off by a
            # few samples, as in legacy/track12.)
            { opusinfo "$f" 2>/dev/null || true; } | awk '/Original sample rate:/ {r = $4} /Channels:/ {c = $2}
                /Playback length:/ {split($3, t, "[hms:]+"); d = t[1] * 60 + t[2]}
                END {printf "opus\t%s\t%s\t%s\n", r, c, d}'
        else
            printf '%s\t%s\t%s\t%s\n' "${f##*.}" "$(soxi -r "$f" 2>/dev/null)" "$(soxi -c "$f" 2>/dev/null)" \
                "$(soxi -D "$f" 2>/dev/null)"
        fi
    done | awk -F'\t' -v dir="${dir#"$out"/}" '
        { n++; s += $4; k = $1 " " $2 / 1000 "k/" $3; kinds[k]++ }
        END {
            list = ""; for (k in kinds) list = list (list == "" ? "" : ", ") kinds[k] "× " k
            printf "%-30s %5d %3d:%02d:%02d %8.2f  %s\n", dir, n, s / 3600, (s % 3600) / 60, s % 60, s / n, list
        }'
done < <(find "$out/music" "$out/noise" "$out/noise-val" "$out/rir" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort)
