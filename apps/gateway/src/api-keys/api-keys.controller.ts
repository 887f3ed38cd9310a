import { ResourceId } from '../common/resource-id.js';
import { Body, Controller, Delete, Get, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiProblemResponses } from '../common/errors/problem-responses.js';
import { ApiPageResponse, PageQueryDto, type Page } from '../common/pagination.js';
import { ApiKeyDto, CreatedApiKeyDto, CreateApiKeyDto } from './api-key.dto.js';
import { ApiKeyService } from './api-key.service.js';

@ApiTags('api-keys')
@ApiBearerAuth()
@ApiProblemResponses()
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly service: ApiKeyService) {}

  @ApiOperation({ summary: 'Create an API key (its token is shown once)' })
  @Post()
  @ApiCreatedResponse({ type: CreatedApiKeyDto, description: 'The new key, with its token: shown only here' })
  create(@Body() dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.service.create(dto);
  }

  @ApiOperation({ summary: 'List API keys' })
  @ApiProblemResponses(ErrorCode.InvalidCursor)
  @Get()
  @ApiPageResponse(ApiKeyDto, 'API keys, oldest first, without their tokens')
  list(@Query() query: PageQueryDto): Promise<Page<ApiKeyDto>> {
    return this.service.list(query.limit, query.cursor);
  }

  @ApiOperation({ summary: 'Delete an API key (its sockets are cut off)' })
  @ApiProblemResponses(ErrorCode.LastAdminKey)
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Deleted; its sockets are disconnected on every instance' })
  delete(@ResourceId() id: string): Promise<void> {
    return this.service.delete(id);
  }
}
