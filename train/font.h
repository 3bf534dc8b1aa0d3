/* train/font.h: a tiny built-in 5x7 bitmap font for labelling the PNGs medtrain
 * writes (curve titles, tick values, legends). Printable ASCII letters,
 * digits and . , - + _ : ( ) / % = ? ; any other character draws as '?'.
 * Each character occupies a 6-pixel-wide cell (5x7 glyph, one column of
 * spacing) times `scale`; the descenders of g p q y reach CLI_FONT_DESCENT
 * rows below the 7-row line. The glyphs were drawn for this project (public
 * domain), in the style of the classic HD44780 5x7 character set. */
#ifndef MT_CLI_FONT_H
#define MT_CLI_FONT_H

#include "draw.h"

enum { CLI_FONT_W = 5, CLI_FONT_H = 7, CLI_FONT_ADVANCE = 6, CLI_FONT_DESCENT = 2 };

/* Width in pixels of `text` drawn at `scale` (0 for "" or NULL): the ink of
 * the last character ends there, no trailing spacing. */
int cli_text_width(const char *text, int scale);

/* Height in pixels of one line of text at `scale` (glyph height, 7 * scale,
 * descenders not counted). */
int cli_text_height(int scale);

/* Draws `text` with its top-left corner at pixel (x, y), each font pixel a
 * scale x scale block of colour (r, g, b); clipped to the canvas. '\n' is not
 * interpreted (single line). */
void cli_draw_text(cli_canvas *c, int x, int y, const char *text, int scale, uint8_t r, uint8_t g, uint8_t b);

/* Filled rectangle [x0, x1] x [y0, y1] (inclusive), clipped to the canvas. */
void cli_fill_rect(cli_canvas *c, int x0, int y0, int x1, int y1, uint8_t r, uint8_t g, uint8_t b);

#endif
